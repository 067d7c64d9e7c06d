"""Kefu's NLU: the Rasa components (the mixed-script tokenizer, the linear
intent and topic classifiers), the shared entity patterns, and the tools
that keep the training data sound (the product lookup table, validation)."""

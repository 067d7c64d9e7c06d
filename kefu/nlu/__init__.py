"""Kefu's NLU pieces: the shared entity patterns, the mixed-script tokenizer
registered with Rasa, and the generator of the product lookup table."""

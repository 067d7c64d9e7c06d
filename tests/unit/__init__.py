"""Pure functions and the training data's own rules."""

"""Whole conversations on the trained model, through the running servers."""

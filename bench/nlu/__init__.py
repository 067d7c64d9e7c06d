"""The NLU benchmark: candidate pipelines on the held-out test set
(tests/nlu/) and in cross-validation over data/nlu/, side by side."""

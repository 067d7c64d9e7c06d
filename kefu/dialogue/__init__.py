"""Kefu's parts of Rasa's dialogue engine: the hand-off policy, the tracker
store that reads one session a turn, prompt lock stores and the prepared
check of action server responses."""

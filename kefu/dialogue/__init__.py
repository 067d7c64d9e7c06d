"""Kefu's own dialogue policy, registered with Rasa: while a person has the
conversation, the bot only relays (policies.py)."""

"""Kefu's dialogue plumbing registered with Rasa: the hand-off policy (while a
person has the conversation, the bot only relays) and the production tracker
store that reads and writes one session a turn."""

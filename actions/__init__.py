"""Kefu's custom actions, served by the rasa-sdk action server.

`rasa run actions --actions actions` imports every module of this package and
registers each `Action`/`FormValidationAction` subclass it finds.
"""

"""Kefu (客服): a Chinese-first, multi-channel customer-service assistant on Rasa.

Rasa owns NLU and dialogue; this package holds what Kefu adds around it:
NLU components (`kefu.nlu`), the shop data layer (`kefu.store`) and the one
configuration loader (`kefu.config`).
"""

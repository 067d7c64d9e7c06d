"""Kefu (客服): a Chinese-first, multi-channel customer-service assistant on Rasa.

Rasa owns NLU and dialogue; this package holds what Kefu adds around it:
what every part shares (`kefu.core`: settings, identities, secrets, clock,
the sentences of domain.yml), Rasa components (`kefu.nlu`, `kefu.dialogue`),
the data layer (`kefu.store`), the state connectors share (`kefu.state`),
the agent desk (`kefu.desk`), analytics (`kefu.analytics`) and the
processes (`kefu.ops`). docs/architecture.md draws the whole.
"""

"""The human-agent desk (客服工作台): a small aiohttp web app beside Rasa.

Agents log in, see the handoff queue live (server-sent events), claim,
answer, transfer and resolve conversations. Data lives in the shop database
(:class:`kefu.store.desk.DeskStore`); Rasa is reached only over its HTTP API
(:mod:`kefu.desk.rasa`). See docs/agent-desk.md.
"""

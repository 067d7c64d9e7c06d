"""Risk control for complaints (风控): abusive words masked wherever staff
read messages, escalation signals and very negative messages that move a
chat up the line to the complaint specialists (``words``), and the category
of a complaint for routing and analytics (``complaints``). The shop's lists
and examples are in risk.yml (KEFU_RISK)."""

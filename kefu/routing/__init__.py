"""Routing handed-off conversations (客服轮岗): which skill group serves a
conversation and how urgently (``policy``, read from routing.yml), and
which agents are on shift (``roster``). The desk's store applies them
(kefu/store/desk/assignment.py, routing.py)."""

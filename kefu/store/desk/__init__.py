"""The human-agent desk's data layer: the handoff queue, agents and their
sessions, the messages of handed-off conversations, canned replies, the
audit log and the desk's metrics.

Like :class:`kefu.store.shop.ShopStore`, every method is one transaction and
returns frozen dataclasses (never ORM objects). The Rasa actions call
``queue_handoff``, ``active_handoff``, ``add_shopper_message`` and
``pop_agent_messages``; the desk web app (``kefu.desk``) calls the rest.

Routing and assignment (客服轮岗) are automatic: a handoff is queued in the
skill group its request and the customer's tier call for (routing.yml), a
VIP ahead of regular shoppers; a waiting handoff goes to a *present* agent
(online, seen within ``presence_seconds``, on shift) of its group below
their cap, and overflows to a backup group when it waits too long. Every change
of a handoff is a conditional UPDATE, so several desk processes and the
action server can run side by side without assigning a chat twice.

:class:`DeskStore` is assembled from one class per area, each in its module:

- ``queue``: handoffs and their messages (:class:`HandoffQueue`)
- ``assignment``: automatic assignment, claims and transfers (:class:`Assignment`)
- ``routing``: skill groups, shifts, overflow and supervisors' alerts (:class:`Routing`)
- ``risk``: abuse and escalation signals of handed-off chats, escalation, blocking (:class:`RiskControl`)
- ``agents``: agents and their presence (:class:`Agents`)
- ``sessions``: login and its lockout, sessions, password changes (:class:`Sessions`)
- ``canned``, ``tickets``, ``audit``, ``metrics``: canned replies, the
  shopper's tickets, the audit log, live updates and figures
- ``waiting``: the honest queue, place, estimate, news and leaving a message (:class:`Waiting`)
- ``assist``: what agents did with the suggested replies, acceptance per intent (:class:`Assist`)
- ``passwords`` (scrypt), ``views`` (the values handed out), ``handoffs``
  (helpers on handoff rows) and ``base`` (the engine and presence)
"""
from __future__ import annotations

from typing import Sequence

from kefu.core.ids import conversation_key
from kefu.store.desk.agents import Agents
from kefu.store.desk.assignment import Assignment
from kefu.store.desk.assist import Assist
from kefu.store.desk.audit import AuditLog
from kefu.store.desk.base import DEFAULT_PRESENCE_SECONDS
from kefu.store.desk.canned import DEFAULT_CANNED, CannedReplies
from kefu.store.desk.handoffs import OPEN
from kefu.store.desk.metrics import DeskMetrics
from kefu.store.desk.passwords import hash_password, needs_rehash, token_hash, verify_password
from kefu.store.desk.queue import HandoffQueue
from kefu.store.desk.risk import RiskControl
from kefu.store.desk.routing import Routing
from kefu.store.desk.sessions import (
    LOCK_BASE,
    LOCK_MAX,
    LOCK_WINDOW,
    MAX_FAILED_LOGINS,
    MAX_FAILED_LOGINS_PER_ADDRESS,
    Sessions,
)
from kefu.store.desk.tickets import Tickets
from kefu.store.desk.views import (
    AgentLoad,
    AgentView,
    AlertView,
    AuditView,
    CannedView,
    Forbidden,
    GroupLine,
    HandoffView,
    MessageView,
    Metrics,
    Outcome,
    TicketRow,
    may_see,
)
from kefu.store.desk.waiting import QueueNews, Waiting, WaitView


class DeskStore(HandoffQueue, Agents, Sessions, Routing, RiskControl, Assignment, AuditLog, Tickets, CannedReplies,
                DeskMetrics, Waiting, Assist):
    """The desk's data layer: ``DeskStore(engine, presence_seconds=90)``."""


__all__: Sequence[str] = [
    "DeskStore", "HandoffView", "AgentView", "MessageView", "CannedView", "AuditView", "TicketRow", "AgentLoad",
    "Metrics", "Outcome", "Forbidden", "AlertView", "GroupLine",
    "WaitView", "QueueNews", "hash_password", "verify_password", "needs_rehash",
    "token_hash", "may_see",
    "conversation_key", "OPEN", "DEFAULT_CANNED", "DEFAULT_PRESENCE_SECONDS", "MAX_FAILED_LOGINS",
    "MAX_FAILED_LOGINS_PER_ADDRESS", "LOCK_WINDOW", "LOCK_BASE", "LOCK_MAX",
]

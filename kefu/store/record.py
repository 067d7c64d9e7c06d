"""The shopper's own service record (服务记录): what a customer asked of the
shop and where each request stands.

One read, one transaction: the customer's after-sale requests (through
their orders), their tickets (opened for them, about one of their orders, or
in one of their conversations) and their past conversations with the topics
the assistant understood (the analytics tables, kefu/analytics/). Which
customer a conversation may see is decided elsewhere (kefu/record/owner.py);
this module never widens it.

A customer's conversations are the ones the platform vouched for (a linked
WeChat or Telegram identity) and the ones that proved one of their orders
(``order_followers``), plus the conversation asking.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Optional, Sequence, Set

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from kefu.core import ids
from kefu.core.clock import from_db
from kefu.store.db import session_scope
from kefu.store.models import (
    AftersaleRequest,
    AnalyticsConversation,
    AnalyticsTurn,
    ChannelIdentity,
    Order,
    OrderFollower,
    Ticket,
)

#: intents that say nothing about what a conversation was about
NOT_TOPICS = frozenset({"greet", "goodbye", "thanks", "affirm", "deny", "inform", "bot_challenge", "nlu_fallback",
                        "out_of_scope", "send_photo", "show_record", "opt_in", "opt_out"})
#: how much of the past a record shows
LIMITS = {"aftersales": 10, "tickets": 10, "conversations": 8}
TOPICS_PER_CONVERSATION = 3


@dataclass(frozen=True)
class AftersaleEntry:
    id: str
    order_id: str
    kind: str  # return | exchange | refund
    status: str  # requested | approved | received | rejected | refunded
    refund_cents: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TicketEntry:
    id: str
    category: str
    status: str  # open | pending | resolved | closed
    order_id: Optional[str]
    created_at: datetime
    sla_due_at: datetime
    resolved_at: Optional[datetime]


@dataclass(frozen=True)
class ConversationEntry:
    started_at: datetime
    channel: Optional[str]
    topics: Sequence[str]  # intents, most talked about first


@dataclass(frozen=True)
class ServiceRecord:
    customer_id: int
    aftersales: Sequence[AftersaleEntry]
    tickets: Sequence[TicketEntry]
    conversations: Sequence[ConversationEntry]

    @property
    def version(self) -> str:
        """Changes whenever anything the shopper would see changes: the
        widget asks again with it and gets 304 while it holds."""
        parts = [f"a:{a.id}:{a.status}:{a.updated_at.isoformat()}" for a in self.aftersales]
        parts += [f"t:{t.id}:{t.status}" for t in self.tickets]
        parts += [f"c:{c.started_at.isoformat()}:{','.join(c.topics)}" for c in self.conversations]
        return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:32]


class RecordStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, customer_id: int, asking: Optional[str] = None) -> ServiceRecord:
        """Customer ``customer_id``'s record; ``asking`` is the conversation
        that asks (its own conversations count even before analytics saw a
        proof of it)."""
        with session_scope(self.engine) as s:
            orders = set(s.execute(select(Order.id).where(Order.customer_id == customer_id)).scalars())
            keys = {ids.conversation_key(c) for c in _conversations_of(s, customer_id, orders)}
            if asking:
                keys.add(ids.conversation_key(asking))
            return ServiceRecord(customer_id, _aftersales(s, orders), _tickets(s, customer_id, orders, keys),
                                 _conversations(s, keys))


def _conversations_of(s: Session, customer_id: int, orders: Set[str]) -> Set[str]:
    vouched = {ids.Identity(channel, external).conversation_id for channel, external in s.execute(
        select(ChannelIdentity.channel, ChannelIdentity.external_id).where(ChannelIdentity.customer_id == customer_id))
        if channel in ids.VOUCHED and ids.valid_native(external)}
    followed = set(s.execute(select(OrderFollower.conversation_id).where(OrderFollower.order_id.in_(orders)))
                   .scalars()) if orders else set()
    return vouched | followed


def _aftersales(s: Session, orders: Set[str]) -> List[AftersaleEntry]:
    if not orders:
        return []
    rows = s.execute(select(AftersaleRequest).where(AftersaleRequest.order_id.in_(orders))
                     .order_by(AftersaleRequest.number.desc()).limit(LIMITS["aftersales"])).scalars()
    return [AftersaleEntry(r.id, r.order_id, r.kind, r.status, r.refund_cents or 0, from_db(r.created_at),
                           from_db(r.updated_at)) for r in rows]


def _tickets(s: Session, customer_id: int, orders: Set[str], keys: Set[str]) -> List[TicketEntry]:
    mine = [Ticket.customer_id == customer_id, Ticket.conversation_key.in_(keys)]
    if orders:
        mine.append(Ticket.order_id.in_(orders))
    rows = s.execute(select(Ticket).where(or_(*mine)).order_by(Ticket.number.desc())
                     .limit(LIMITS["tickets"])).scalars()
    return [TicketEntry(t.id, t.category, t.status, t.order_id, from_db(t.created_at), from_db(t.sla_due_at),
                        from_db(t.resolved_at) if t.resolved_at else None) for t in rows]


def _conversations(s: Session, keys: Set[str]) -> List[ConversationEntry]:
    if not keys:
        return []
    conversations = s.execute(select(AnalyticsConversation).where(AnalyticsConversation.conversation_key.in_(keys),
                                                                  AnalyticsConversation.user_messages > 0)
                              .order_by(AnalyticsConversation.started_at.desc())
                              .limit(LIMITS["conversations"])).scalars().all()
    intents = _intents_of(s, [c.id for c in conversations])
    return [ConversationEntry(from_db(c.started_at), c.channel, _topics(intents.get(c.id, ())))
            for c in conversations]


def _intents_of(s: Session, conversation_ids: List[int]) -> Dict[int, List[str]]:
    found: Dict[int, List[str]] = {}
    if not conversation_ids:
        return found
    for conversation, intent in s.execute(select(AnalyticsTurn.conversation_id, AnalyticsTurn.intent)
                                          .where(AnalyticsTurn.conversation_id.in_(conversation_ids))
                                          .order_by(AnalyticsTurn.id)):
        if intent:
            found.setdefault(conversation, []).append(intent)
    return found


def _topics(intents: Sequence[str]) -> List[str]:
    """The subjects a conversation was about, the most asked first (ties:
    the first asked), without greetings, answers and fallbacks."""
    counted = Counter(i for i in intents if i not in NOT_TOPICS)
    first: Dict[str, int] = {}
    for position, intent in enumerate(i for i in intents if i not in NOT_TOPICS):
        first.setdefault(intent, position)
    ranked = sorted(counted, key=lambda i: (-counted[i], first[i]))
    return ranked[:TOPICS_PER_CONVERSATION]

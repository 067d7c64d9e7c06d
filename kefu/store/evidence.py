"""The records of photo evidence. Like the other stores, each method is one
transaction and returns frozen values.

A photo arrives before the request it supports exists (the form asks for
photos before it creates the request), so it waits attached to nothing,
under its conversation, for a day; creating the request attaches what is
waiting (:func:`attach_waiting`, called inside that transaction). Only the
conversation that sent a photo, and the agents who see that conversation,
ever get to it.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List, Optional

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from kefu.core import ids
from kefu.core.clock import from_db, to_db, utcnow
from kefu.store.db import session_scope
from kefu.store.models import AftersaleRequest, Evidence, Ticket

#: how long a photo waits for the request it was sent for
WAITING_LIFETIME = timedelta(days=1)


class TooMany(Exception):
    """The conversation already has as many photos waiting as one request takes."""


@dataclass(frozen=True)
class EvidenceView:
    id: str
    channel: str
    sha256: str
    content_type: str
    size: int
    width: int
    height: int
    storage_key: str
    thumbnail_key: str
    aftersale_id: Optional[str]
    ticket_id: Optional[str]
    created_at: datetime


@dataclass(frozen=True)
class Recorded:
    evidence: EvidenceView
    waiting: int  # photos now waiting in the conversation, this one included
    duplicate: bool  # the same photo was already waiting: nothing new recorded


@dataclass(frozen=True)
class NewPhoto:
    """What the intake knows of a cleaned photo it has stored."""

    sha256: str
    content_type: str
    size: int
    width: int
    height: int
    storage_key: str
    thumbnail_key: str


class EvidenceStore:
    def __init__(self, engine: Engine, max_waiting: int = 6) -> None:
        self.engine = engine
        self.max_waiting = max_waiting

    def record(self, conversation_id: str, channel: str, photo: NewPhoto,
               now: Optional[datetime] = None) -> Recorded:
        """Keep the record of a photo the conversation sent; :class:`TooMany`
        when as many as one request takes are already waiting."""
        now = now or utcnow()
        key = ids.conversation_key(conversation_id)
        with session_scope(self.engine) as s:
            waiting = _waiting(s, key, now)
            same = next((row for row in waiting if row.sha256 == photo.sha256), None)
            if same is not None:
                return Recorded(_view(s, same), len(waiting), duplicate=True)
            if len(waiting) >= self.max_waiting:
                raise TooMany()
            row = Evidence(id=secrets.token_hex(16), conversation_key=key, channel=channel,
                           sha256=photo.sha256, content_type=photo.content_type, size=photo.size,
                           width=photo.width, height=photo.height, storage_key=photo.storage_key,
                           thumbnail_key=photo.thumbnail_key, created_at=to_db(now))
            s.add(row)
            s.flush()
            return Recorded(_view(s, row), len(waiting) + 1, duplicate=False)

    def has_room(self, conversation_id: str, sha256: str, now: Optional[datetime] = None) -> bool:
        """Whether :meth:`record` would take this photo: it is already
        waiting (a re-sent photo), or fewer than a request takes are."""
        with session_scope(self.engine) as s:
            waiting = _waiting(s, ids.conversation_key(conversation_id), now or utcnow())
            return any(row.sha256 == sha256 for row in waiting) or len(waiting) < self.max_waiting

    def waiting_count(self, conversation_id: str, now: Optional[datetime] = None) -> int:
        with session_scope(self.engine) as s:
            return len(_waiting(s, ids.conversation_key(conversation_id), now or utcnow()))

    def of_conversation(self, conversation_id: str) -> List[EvidenceView]:
        """Every photo the conversation sent, oldest first (the desk's view)."""
        with session_scope(self.engine) as s:
            rows = s.execute(select(Evidence).where(
                Evidence.conversation_key == ids.conversation_key(conversation_id))
                .order_by(Evidence.created_at, Evidence.id)).scalars().all()
            return [_view(s, row) for row in rows]

    def of_aftersale(self, aftersale_id: str) -> List[EvidenceView]:
        with session_scope(self.engine) as s:
            rows = s.execute(select(Evidence).join(AftersaleRequest,
                                                   AftersaleRequest.number == Evidence.aftersale_number)
                             .where(AftersaleRequest.id == aftersale_id)
                             .order_by(Evidence.created_at, Evidence.id)).scalars().all()
            return [_view(s, row) for row in rows]

    def get(self, evidence_id: str) -> Optional[EvidenceView]:
        with session_scope(self.engine) as s:
            row = s.get(Evidence, evidence_id[:32])
            return _view(s, row) if row is not None else None

    def belongs_to(self, evidence_id: str, conversation_id: str) -> bool:
        with session_scope(self.engine) as s:
            row = s.get(Evidence, evidence_id[:32])
            return row is not None and row.conversation_key == ids.conversation_key(conversation_id)


def attach_waiting(s: Session, key: str, *, aftersale_number: Optional[int] = None,
                   ticket_number: Optional[int] = None, now: Optional[datetime] = None) -> int:
    """Inside the transaction that creates a request or ticket: attach the
    photos waiting in its conversation (``key``: its conversation key), how many."""
    since = to_db((now or utcnow()) - WAITING_LIFETIME)
    return s.execute(update(Evidence).where(
        Evidence.conversation_key == key, Evidence.aftersale_number.is_(None),
        Evidence.ticket_number.is_(None), Evidence.created_at >= since)
        .values(aftersale_number=aftersale_number, ticket_number=ticket_number)
        .execution_options(synchronize_session=False)).rowcount


def _waiting(s: Session, key: str, now: datetime) -> List[Evidence]:
    since = to_db(now - WAITING_LIFETIME)
    return list(s.execute(select(Evidence).where(
        Evidence.conversation_key == key, Evidence.aftersale_number.is_(None),
        Evidence.ticket_number.is_(None), Evidence.created_at >= since)
        .order_by(Evidence.created_at)).scalars())


def _view(s: Session, row: Evidence) -> EvidenceView:
    aftersale = s.get(AftersaleRequest, row.aftersale_number) if row.aftersale_number else None
    ticket = s.get(Ticket, row.ticket_number) if row.ticket_number else None
    return EvidenceView(id=row.id, channel=row.channel, sha256=row.sha256, content_type=row.content_type,
                        size=row.size, width=row.width, height=row.height, storage_key=row.storage_key,
                        thumbnail_key=row.thumbnail_key, aftersale_id=aftersale.id if aftersale else None,
                        ticket_id=ticket.id if ticket else None, created_at=from_db(row.created_at))

"""An honest queue: where a waiting shopper stands, how long it will likely
take, when to tell them again, and leaving a message instead.

The estimate comes from how long agents recently took per chat (the median
time from assignment to close over the last week, 5 minutes while there is
too little history) and how many chats the agents who serve the shopper's
line can hold at once (present, on shift, of the handoff's skill group or
serving every group): a shopper at place ``p`` of their group's line waits
about ``p x median / slots``. With nobody there is no honest number, and
none is given. A VIP who joins ahead makes a place worse; the shopper is
told only of places that improve.

The shopper is told again when their place improves and once when the
estimate has passed (with the offer to leave a message); each is a
conditional update, so two desk processes never tell the same thing twice.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kefu.core.clock import from_db, to_db, utcnow
from kefu.routing.roster import on_shift
from kefu.store.db import session_scope
from kefu.store.desk.assignment import served_by
from kefu.store.desk.audit import write_audit
from kefu.store.desk.base import StoreBase, shifts_of, skills_of
from kefu.store.desk.handoffs import line_order, open_handoff, queue_position
from kefu.store.models import Agent, Handoff

HISTORY = timedelta(days=7)
MIN_HISTORY = 3
DEFAULT_HANDLING = timedelta(minutes=5)


@dataclass(frozen=True)
class WaitView:
    handoff_id: int
    conversation_id: str
    position: int
    minutes: Optional[int]  # None: no agent present, no honest estimate
    language: str


@dataclass(frozen=True)
class QueueNews:
    """What a waiting shopper should be told now: ``moved`` up, or ``late``."""

    kind: str
    wait: WaitView


class Waiting(StoreBase):
    def wait_for(self, conversation_id: str, now: Optional[datetime] = None) -> Optional[WaitView]:
        """The conversation's place and estimate, while it waits for an agent."""
        now = now or utcnow()
        with session_scope(self.engine) as s:
            handoff = open_handoff(s, conversation_id)
            if handoff is None or handoff.status != "waiting":
                return None
            return self._wait(s, handoff, now)

    def start_waiting(self, conversation_id: str, now: Optional[datetime] = None) -> Optional[WaitView]:
        """Note what the shopper was told on joining the queue (their place
        and when the estimate runs out), so later news says only what changed."""
        now = now or utcnow()
        with session_scope(self.engine) as s:
            handoff = open_handoff(s, conversation_id)
            if handoff is None or handoff.status != "waiting":
                return None
            wait = self._wait(s, handoff, now)
            handoff.told_position = wait.position
            handoff.estimate_due_at = to_db(now + timedelta(minutes=wait.minutes)) if wait.minutes else None
            return wait

    def queue_news(self, now: Optional[datetime] = None) -> List[QueueNews]:
        """Waiting shoppers whose place improved since they were told, or
        whose estimate has passed; each is returned once."""
        now = now or utcnow()
        news: List[QueueNews] = []
        with session_scope(self.engine) as s:
            waiting = s.execute(select(Handoff).where(Handoff.status == "waiting").order_by(*line_order())).scalars()
            for handoff in list(waiting):
                wait = self._wait(s, handoff, now)
                late = handoff.estimate_due_at is not None and handoff.reminded_at is None \
                    and from_db(handoff.estimate_due_at) <= now
                if late and _mark(s, handoff, reminded_at=to_db(now)):
                    news.append(QueueNews("late", wait))
                elif handoff.told_position and wait.position < handoff.told_position \
                        and _mark(s, handoff, told_position=wait.position):
                    news.append(QueueNews("moved", wait))
        return news

    def leave_message(self, conversation_id: str, now: Optional[datetime] = None) -> Optional[int]:
        """Stop waiting: the shopper leaves a message instead (a ticket, the
        caller opens it). The handoff closes only if it is still waiting (an
        agent who took it a moment ago keeps it); its id, or None."""
        now = now or utcnow()
        with session_scope(self.engine) as s:
            handoff = open_handoff(s, conversation_id)
            if handoff is None or handoff.status != "waiting":
                return None
            done = s.execute(update(Handoff).where(Handoff.id == handoff.id, Handoff.status == "waiting")
                             .values(status="closed", closed_at=to_db(now))
                             .execution_options(synchronize_session=False)).rowcount
            if not done:
                return None
            write_audit(s, None, "handoff.left_message", f"handoff:{handoff.id}", None)
            return int(handoff.id)

    def _wait(self, s: Session, handoff: Handoff, now: datetime) -> WaitView:
        position = queue_position(s, handoff)
        groups = served_by(handoff)
        present = [a for a in s.execute(select(Agent)).scalars().all() if self._present(a, now)]
        ids = [a.id for a in present]
        skills, shifts = skills_of(s, ids), shifts_of(s, ids)
        slots = sum(int(a.max_concurrent) for a in present if on_shift(shifts.get(a.id, []), now, self.zone)
                    and (not skills.get(a.id) or not groups or skills[a.id] & groups))
        minutes = None
        if slots:
            handling = _median_handling(s, now).total_seconds()
            minutes = max(1, math.ceil(position * handling / slots / 60))
        return WaitView(handoff.id, handoff.conversation_id, position, minutes, handoff.language or "zh")


def _mark(s: Session, handoff: Handoff, **values: object) -> bool:
    """Record what was told, if nobody recorded it first."""
    guard = Handoff.reminded_at.is_(None) if "reminded_at" in values else \
        (Handoff.told_position == handoff.told_position)
    return bool(s.execute(update(Handoff).where(Handoff.id == handoff.id, Handoff.status == "waiting", guard)
                          .values(**values).execution_options(synchronize_session=False)).rowcount)


def _median_handling(s: Session, now: datetime) -> timedelta:
    rows = s.execute(select(Handoff.assigned_at, Handoff.closed_at).where(
        Handoff.assigned_at.is_not(None), Handoff.closed_at.is_not(None),
        Handoff.closed_at >= to_db(now - HISTORY))).all()
    durations = [(closed - assigned).total_seconds() for assigned, closed in rows if closed > assigned]
    if len(durations) < MIN_HISTORY:
        return DEFAULT_HANDLING
    return timedelta(seconds=statistics.median(durations))

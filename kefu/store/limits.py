"""How often a stranger may repeat something: sliding windows and backoff.

Everything that arrives from outside can be repeated from rotating senders
and addresses: asking for an agent, opening tickets, rating, failing a desk
login, making the shop send mail. Each use is a row in ``rate_events`` under
a scope and a keyed hash of who used it (never the id in clear); a use is
allowed while fewer than ``count`` are in the window. Every check is one
transaction on the shop database, so all processes share the same counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from kefu.core.clock import from_db, to_db, utcnow
from kefu.store.db import session_scope
from kefu.store.models import RateEvent


@dataclass(frozen=True)
class Limit:
    """At most ``count`` uses of ``scope`` per key within ``window``."""

    scope: str
    count: int
    window: timedelta


#: what a shopper may repeat (actions/): per conversation, and per client
#: address where the channel knows one; generous enough for a household or
#: an office behind one address, far too few for a script
HANDOFFS_PER_CONVERSATION = Limit("handoff:conversation", 5, timedelta(hours=1))
HANDOFFS_PER_CLIENT = Limit("handoff:client", 30, timedelta(hours=1))
TICKETS_PER_CONVERSATION = Limit("ticket:conversation", 6, timedelta(hours=1))
TICKETS_PER_CLIENT = Limit("ticket:client", 50, timedelta(hours=1))
RATINGS_PER_CONVERSATION = Limit("rating:conversation", 5, timedelta(hours=1))
RATINGS_PER_CLIENT = Limit("rating:client", 100, timedelta(hours=1))
#: photos sent from one address whatever the session (kefu/evidence/intake.py)
PHOTOS_PER_CLIENT = Limit("photo:client", 60, timedelta(hours=1))


def locked_until(failures: Sequence[datetime], limit: int, base: timedelta, cap: timedelta) -> Optional[datetime]:
    """Backoff after repeated failures: with ``limit`` or more failures the
    next attempt waits ``base`` after the last one, doubling with every
    further failure up to ``cap``; None when no wait is due."""
    if limit <= 0 or len(failures) < limit:
        return None
    wait = min(cap, base * 2 ** (len(failures) - limit))
    return max(failures) + wait


class Limits:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def allow(self, limit: Limit, key: Optional[str], now: Optional[datetime] = None) -> bool:
        """Record one use by ``key`` and say True, or say False (and record
        nothing) when ``key`` used up the window. No key (a channel that
        knows no address): always allowed."""
        if not key:
            return True
        now = now or utcnow()
        with session_scope(self.engine) as s:
            used = s.execute(select(func.count()).where(
                RateEvent.scope == limit.scope, RateEvent.key == key,
                RateEvent.created_at >= to_db(now - limit.window))).scalar_one()
            if used >= limit.count:
                return False
            s.add(RateEvent(scope=limit.scope, key=key[:64], created_at=to_db(now)))
            return True

    def record(self, scope: str, key: str, now: Optional[datetime] = None) -> None:
        with session_scope(self.engine) as s:
            s.add(RateEvent(scope=scope, key=key[:64], created_at=to_db(now or utcnow())))

    def times(self, scope: str, key: str, since: datetime) -> list[datetime]:
        """When ``key`` used ``scope`` since ``since``, oldest first."""
        with session_scope(self.engine) as s:
            rows = s.execute(select(RateEvent.created_at).where(
                RateEvent.scope == scope, RateEvent.key == key, RateEvent.created_at >= to_db(since))
                .order_by(RateEvent.created_at)).scalars()
            return [from_db(t) for t in rows]

    def forget(self, scope: str, key: str) -> None:
        """Clear ``key``'s uses of ``scope`` (a success ends a failure streak)."""
        with session_scope(self.engine) as s:
            s.execute(delete(RateEvent).where(RateEvent.scope == scope, RateEvent.key == key))

    def purge(self, before: datetime) -> int:
        """Forget uses older than any window (run now and then)."""
        with session_scope(self.engine) as s:
            return s.execute(delete(RateEvent).where(RateEvent.created_at < to_db(before))).rowcount

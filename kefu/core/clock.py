"""The one clock: aware UTC in the code, naive UTC in the database.

Every DateTime column stores naive UTC (SQLite has no time zones); every
value handed to callers is aware. ``to_db`` and ``from_db`` are the only
crossings, so a time is never compared across the two forms by mistake.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional, overload


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_db(moment: datetime) -> datetime:
    """Aware -> naive UTC, the form stored in every DateTime column."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


@overload
def from_db(moment: datetime) -> datetime: ...


@overload
def from_db(moment: None) -> None: ...


@overload
def from_db(moment: Optional[datetime]) -> Optional[datetime]: ...


def from_db(moment: Optional[datetime]) -> Optional[datetime]:
    """Naive UTC from a DateTime column -> aware UTC; None (an empty nullable
    column) stays None. The model columns are untyped (SQLAlchemy 1.4 without
    its mypy plugin), so a column is Any here: whether it may be None is the
    caller's to know from ``nullable=``."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None else None

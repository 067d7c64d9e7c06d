"""When a piece of order news may be sent: never at night, at most a few a
day, and with a retry schedule that backs off.

Pure functions of a moment and the settings, so the rules are tested with
any clock; the dispatcher asks them before each delivery.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Optional, Tuple
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class NotifyPolicy:
    zone: ZoneInfo
    #: local times between which nothing is pushed (may span midnight)
    quiet: Optional[Tuple[time, time]] = (time(22, 0), time(8, 0))
    daily_cap: int = 3
    max_attempts: int = 6
    first_retry_seconds: float = 30.0
    max_retry_seconds: float = 3600.0


def parse_quiet_hours(text: str) -> Optional[Tuple[time, time]]:
    """``"22:00-08:00"`` -> (22:00, 08:00); ``""`` or ``"off"`` -> None."""
    text = text.strip().lower()
    if text in ("", "off", "none"):
        return None
    start, _, end = text.partition("-")
    try:
        return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        raise ValueError(f"quiet hours must look like 22:00-08:00, not {text!r}") from None


def quiet_until(policy: NotifyPolicy, moment: datetime) -> Optional[datetime]:
    """The end of the quiet hours ``moment`` falls in (aware UTC), or None
    when it may be sent now."""
    if policy.quiet is None:
        return None
    start, end = policy.quiet
    local = moment.astimezone(policy.zone)
    now = local.time()
    inside = (start <= now < end) if start < end else (now >= start or now < end)
    if not inside:
        return None
    day = local.date() if now < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=policy.zone).astimezone(timezone.utc)


def day_bounds(policy: NotifyPolicy, moment: datetime) -> Tuple[datetime, datetime]:
    """The shop's local calendar day around ``moment``, as aware UTC
    (start, start of the next day): the daily cap counts within it."""
    local = moment.astimezone(policy.zone)
    start = datetime.combine(local.date(), time(0, 0), tzinfo=policy.zone)
    return start.astimezone(timezone.utc), (start + timedelta(days=1)).astimezone(timezone.utc)


def retry_delay(policy: NotifyPolicy, attempts: int) -> Optional[timedelta]:
    """How long to wait after ``attempts`` failed deliveries; None once they
    are used up (the notification is then failed, with its last error)."""
    if attempts >= policy.max_attempts:
        return None
    seconds = min(policy.max_retry_seconds, policy.first_retry_seconds * 2 ** max(0, attempts - 1))
    return timedelta(seconds=seconds)

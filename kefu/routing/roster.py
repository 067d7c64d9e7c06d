"""The roster (排班): when each agent works, beside the shop's weekday hours.

A shift is a weekday and a span of local time in the shop's zone
(service_hours.yml); an agent with no shifts at all is not on the roster
and takes chats whenever they are online, as before rosters existed.
Automatic assignment gives new chats only to agents on shift; an agent
may still claim a chat off shift (their own choice).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Iterable, List, Sequence
from zoneinfo import ZoneInfo

from kefu.core.hours import DAYS

_SPAN = re.compile(r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?)\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$")


@dataclass(frozen=True)
class Shift:
    weekday: int  # 0 = Monday
    start: time
    end: time  # after start; a night shift is two shifts

    def covers(self, local: datetime) -> bool:
        return local.weekday() == self.weekday and self.start <= local.time() < self.end

    def __str__(self) -> str:
        return f"{DAYS[self.weekday]} {self.start:%H:%M}-{self.end:%H:%M}"


def parse_shifts(text: str) -> List[Shift]:
    """"mon-fri 09:00-18:00, sat 10:00-16:00" → one shift per day; raises
    ValueError on anything else (a typo must not silently empty a roster)."""
    shifts: List[Shift] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        match = _SPAN.match(part)
        if match is None:
            raise ValueError(f"a shift is like 'mon-fri 09:00-18:00', not {part!r}")
        first, _, last = match["days"].partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"unknown day in {part!r}")
        start, end = time.fromisoformat(match["start"].zfill(5)), time.fromisoformat(match["end"].zfill(5))
        if end <= start:
            raise ValueError(f"a shift ends after it starts: {part!r} (split a night shift in two)")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        shifts.extend(Shift(day, start, end) for day in days)
    return shifts


def on_shift(shifts: Sequence[Shift], moment: datetime, zone: ZoneInfo) -> bool:
    """Whether an agent with these shifts works at ``moment`` (aware)."""
    if not shifts:
        return True
    local = moment.astimezone(zone)
    return any(shift.covers(local) for shift in shifts)


def describe(shifts: Iterable[Shift]) -> str:
    return ", ".join(str(s) for s in sorted(shifts, key=lambda s: (s.weekday, s.start)))

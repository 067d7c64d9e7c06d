"""Agents' working hours: per weekday, with holidays, in the shop's time zone.

Read from ``service_hours.yml`` (or the file named by KEFU_SERVICE_HOURS) so
that a shop changes its hours without touching code.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Dict, FrozenSet, Optional, Tuple
from zoneinfo import ZoneInfo

import yaml

from kefu.core.config import load_settings

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class ServiceHours:
    zone: ZoneInfo
    weekly: Dict[int, Tuple[time, time]]  # weekday (0 = Monday) -> open, close
    holidays: FrozenSet[date]

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        hours = self._hours_on(local.date())
        return hours is not None and hours[0] <= local.time() < hours[1]

    def next_opening(self, moment: datetime) -> Optional[datetime]:
        """When agents are next at work (in the shop's zone), within 60 days."""
        local = moment.astimezone(self.zone)
        for offset in range(0, 60):
            day = local.date() + timedelta(days=offset)
            hours = self._hours_on(day)
            if hours is None:
                continue
            opening = datetime.combine(day, hours[0], tzinfo=self.zone)
            if opening > local:
                return opening
            if offset == 0 and local.time() < hours[1]:
                return local  # open now
        return None

    def _hours_on(self, day: date) -> Optional[Tuple[time, time]]:
        if day in self.holidays:
            return None
        return self.weekly.get(day.weekday())


def parse(config: Dict) -> ServiceHours:
    weekly = {}
    for name, span in (config.get("weekly") or {}).items():
        start, end = (time.fromisoformat(str(t)) for t in span)
        weekly[DAYS.index(str(name).lower()[:3])] = (start, end)
    holidays = frozenset(date.fromisoformat(str(d)) for d in config.get("holidays") or [])
    return ServiceHours(ZoneInfo(config.get("timezone", "Asia/Shanghai")), weekly, holidays)


def load(path: Optional[str] = None) -> ServiceHours:
    """The configured hours; read on every call so an edited file counts at once."""
    path = path or str(load_settings().service_hours_path)
    return parse(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})

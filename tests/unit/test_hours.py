"""Working hours per weekday, holidays, and when agents are back."""
from datetime import datetime, timezone

from kefu.core.hours import load, parse

SHOP = parse({
    "timezone": "Asia/Shanghai",
    "weekly": {"mon": ["09:00", "18:00"], "tue": ["09:00", "18:00"], "sat": ["10:00", "16:00"]},
    "holidays": ["2026-11-24"],
})


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_open_within_the_hours_of_the_day_in_the_shops_zone():
    assert SHOP.is_open(utc(2026, 11, 23, 2, 0))      # Mon 10:00 in Shanghai
    assert not SHOP.is_open(utc(2026, 11, 23, 0, 30))  # Mon 08:30
    assert not SHOP.is_open(utc(2026, 11, 23, 10, 0))  # Mon 18:00: closed at the end
    assert not SHOP.is_open(utc(2026, 11, 22, 4, 0))   # Sunday: not listed


def test_holidays_are_closed_and_the_next_opening_skips_them():
    assert not SHOP.is_open(utc(2026, 11, 24, 3, 0))   # Tuesday, a holiday
    back = SHOP.next_opening(utc(2026, 11, 23, 12, 0))  # Mon 20:00
    assert back.isoformat() == "2026-11-28T10:00:00+08:00"  # Tue holiday, Wed-Fri closed, Sat 10:00


def test_next_opening_is_now_when_open_and_the_shipped_file_parses():
    now = utc(2026, 11, 23, 2, 0)
    assert SHOP.next_opening(now) == now.astimezone(SHOP.zone)
    shipped = load()
    assert len(shipped.weekly) == 7

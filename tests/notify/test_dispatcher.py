"""The outbox's rules with a clock the test controls, on a real shop
database and over HTTP to a fake Rasa: quiet hours, the daily cap, opt-out
everywhere, never twice, retries that back off, the widget's next visit,
stalled parcels."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import List
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from kefu.desk.rasa import RasaClient
from kefu.notify.dispatcher import Dispatcher
from kefu.notify.policy import NotifyPolicy, parse_quiet_hours
from kefu.store.db import session_scope
from kefu.store.models import Order, Shipment, TrackingEvent
from kefu.store.notify import IncomingEvent, NotifyStore
from tests.desk.conftest import JWT_SECRET
from tests.notify.conftest import order_with

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: 10:00 in Shanghai on a weekday
DAY = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _dispatcher(store: NotifyStore, rasa_fake, clock: Clock, cap: int = 3, open_pages: frozenset = frozenset()):
    policy = NotifyPolicy(zone=SHANGHAI, quiet=parse_quiet_hours("22:00-08:00"), daily_cap=cap, max_attempts=3,
                          first_retry_seconds=30)

    async def page_open(conversation_id: str) -> bool:
        return conversation_id in open_pages or store.page_open(conversation_id, clock())

    return Dispatcher(store, RasaClient(rasa_fake.url, JWT_SECRET), policy, page_open, clock)


def _event(order_id: str, kind: str = "order.shipped", data=None) -> IncomingEvent:
    return IncomingEvent(f"evt-{uuid.uuid4().hex[:10]}", kind, order_id, DAY,
                         data if data is not None else {"carrier": "SF", "tracking_no": "SF123"})


def _run(dispatcher: Dispatcher) -> int:
    async def once() -> int:
        try:
            return await dispatcher.run_once()
        finally:
            await dispatcher.rasa.close()

    return asyncio.run(once())


def _statuses(store: NotifyStore, order_id: str) -> List[str]:
    return [n.status for n in store.notifications(order_id)]


def test_nothing_is_pushed_at_night(notify_store, shop_db, rasa_fake):
    order = order_with(shop_db, "paid")
    notify_store.follow(order.id, "telegram:1001")
    notify_store.record_event(_event(order.id), DAY)
    night = Clock(datetime(2026, 12, 2, 23, 30, tzinfo=SHANGHAI))
    _run(_dispatcher(notify_store, rasa_fake, night))
    [held] = notify_store.notifications(order.id)
    assert (held.status, held.reason) == ("pending", "quiet_hours")
    assert held.next_attempt_at == datetime(2026, 12, 3, 8, 0, tzinfo=SHANGHAI)
    assert held.attempts == 0 and rasa_fake.executed("action_notify") == []
    _run(_dispatcher(notify_store, rasa_fake, Clock(datetime(2026, 12, 3, 8, 1, tzinfo=SHANGHAI))))
    assert _statuses(notify_store, order.id) == ["sent"]


def test_at_most_the_cap_a_day_then_tomorrow(notify_store, shop_db, rasa_fake):
    order = order_with(shop_db, "shipped")
    notify_store.follow(order.id, "telegram:1002")
    for kind in ("order.out_for_delivery", "order.delivered", "order.delayed"):
        notify_store.record_event(_event(order.id, kind), DAY)
    clock = Clock(DAY)
    for _ in range(3):
        _run(_dispatcher(notify_store, rasa_fake, clock, cap=2))
    assert _statuses(notify_store, order.id) == ["sent", "sent", "pending"]
    third = notify_store.notifications(order.id)[2]
    assert third.reason == "daily_cap" and third.next_attempt_at == datetime(2026, 12, 3, tzinfo=SHANGHAI)
    clock.now = datetime(2026, 12, 3, 9, 0, tzinfo=SHANGHAI)
    _run(_dispatcher(notify_store, rasa_fake, clock, cap=2))
    assert _statuses(notify_store, order.id) == ["sent", "sent", "sent"]


def test_opting_out_anywhere_stops_the_news_everywhere(notify_store, shop_db, rasa_fake):
    """Stop on one channel, for the shopper's order there: news of another
    order of the same customer, proved on the widget, is not sent either."""
    with session_scope(notify_store.engine) as s:
        customer, first, second = next(
            (c, ids[0], ids[1]) for c, ids in _orders_by_customer(s).items() if len(ids) >= 2)
    notify_store.follow(first, "telegram:1003")
    notify_store.follow(second, "web:page-of-the-same-shopper")
    notify_store.opt_out("telegram:1003", None)
    assert notify_store.opted_out("web:page-of-the-same-shopper", customer)
    notify_store.record_event(_event(second, "order.delivered", {}), DAY)
    _run(_dispatcher(notify_store, rasa_fake, Clock(DAY), open_pages=frozenset({"web:page-of-the-same-shopper"})))
    [news] = notify_store.notifications(second)
    assert (news.status, news.reason) == ("skipped", "opted_out")
    notify_store.opt_in("telegram:1003", None)
    assert not notify_store.opted_out("web:page-of-the-same-shopper", customer)


def _orders_by_customer(s) -> dict:
    grouped: dict = {}
    for order_id, customer in s.execute(select(Order.id, Order.customer_id).order_by(Order.id)).all():
        grouped.setdefault(customer, []).append(order_id)
    return grouped


def test_two_dispatchers_never_say_one_event_twice(notify_store, shop_db, rasa_fake):
    order = order_with(shop_db, "paid")
    notify_store.follow(order.id, "telegram:1004")
    notify_store.record_event(_event(order.id), DAY)

    async def both() -> None:
        first, second = (_dispatcher(notify_store, rasa_fake, Clock(DAY)) for _ in range(2))
        await asyncio.gather(first.run_once(), second.run_once())
        await asyncio.gather(first.rasa.close(), second.rasa.close())

    asyncio.run(both())
    assert len(rasa_fake.executed("action_notify")) == 1
    assert _statuses(notify_store, order.id) == ["sent"]


def test_a_delivery_cut_short_by_a_crash_is_not_tried_again(notify_store, shop_db, rasa_fake):
    order = order_with(shop_db, "paid")
    notify_store.follow(order.id, "telegram:1005")
    notify_store.record_event(_event(order.id), DAY)
    [taken] = notify_store.claim_due(DAY, timedelta(minutes=2))  # a dispatcher took it, then died
    assert taken.status == "sending"
    _run(_dispatcher(notify_store, rasa_fake, Clock(DAY + timedelta(minutes=5))))
    [news] = notify_store.notifications(order.id)
    assert (news.status, news.reason) == ("failed", "interrupted")
    assert rasa_fake.executed("action_notify") == []


def test_rasa_refusing_is_retried_with_backoff_then_recorded(notify_store, shop_db, rasa_fake):
    order = order_with(shop_db, "paid")
    notify_store.follow(order.id, "telegram:1006")
    notify_store.record_event(_event(order.id), DAY)
    rasa_fake.refuse_next = 1
    clock = Clock(DAY)
    _run(_dispatcher(notify_store, rasa_fake, clock))
    [news] = notify_store.notifications(order.id)
    assert (news.status, news.reason, news.attempts) == ("pending", "retrying", 1)
    assert news.next_attempt_at == DAY + timedelta(seconds=30) and "503" in news.last_error
    _run(_dispatcher(notify_store, rasa_fake, clock))  # not due yet
    assert notify_store.notifications(order.id)[0].attempts == 1
    clock.now = DAY + timedelta(seconds=31)
    _run(_dispatcher(notify_store, rasa_fake, clock))
    assert [(n.status, n.attempts) for n in notify_store.notifications(order.id)] == [("sent", 2)]

    other = order_with(shop_db, "paid", linked=False)
    if other.id == order.id:
        pytest.skip("the seeded shop has one paid order only")
    notify_store.follow(other.id, "telegram:1007")
    notify_store.record_event(_event(other.id), DAY)
    rasa_fake.refuse_next = 10
    for step in range(4):
        clock.now = DAY + timedelta(hours=step + 1)
        _run(_dispatcher(notify_store, rasa_fake, clock))
    [failed] = notify_store.notifications(other.id)
    assert (failed.status, failed.reason, failed.attempts) == ("failed", "attempts_used", 3)


def test_a_closed_widget_page_gets_it_on_the_next_visit(notify_store, shop_db, rasa_fake):
    order = order_with(shop_db, "paid")
    notify_store.follow(order.id, "web:visitor-session")
    notify_store.record_event(_event(order.id), DAY)
    for visit in range(3):  # the page opens and closes again before anything is due
        _run(_dispatcher(notify_store, rasa_fake, Clock(DAY + timedelta(seconds=visit))))
        assert [(n.status, n.reason) for n in notify_store.notifications(order.id)] == [("waiting", "page_closed")]
        if visit < 2:
            notify_store.page_opened(f"sid-{visit}", "web:visitor-session", DAY)
            notify_store.page_closed(f"sid-{visit}")
    assert notify_store.page_opened("sid-1", "web:visitor-session", DAY) == 1
    _run(_dispatcher(notify_store, rasa_fake, Clock(DAY + timedelta(seconds=5))))
    [sent] = notify_store.notifications(order.id)
    assert (sent.status, sent.attempts) == ("sent", 1)  # holding for the page is not a failed attempt
    assert rasa_fake.executed("action_notify")[-1]["query"]["output_channel"] == "webchat"
    notify_store.page_closed("sid-1")
    assert not notify_store.page_open("web:visitor-session", DAY)


def test_a_parcel_that_stops_moving_is_told_once(notify_store, shop_db, rasa_fake):
    order = order_with(shop_db, "paid")
    notify_store.follow(order.id, "telegram:1008")
    notify_store.record_event(_event(order.id, data={"carrier": "JD", "tracking_no": "JD555",
                                                      "description_zh": "已揽收", "description_en": "Picked up"}), DAY)
    _run(_dispatcher(notify_store, rasa_fake, Clock(DAY)))
    later = Clock(DAY + timedelta(hours=49))
    dispatcher = _dispatcher(notify_store, rasa_fake, later)
    assert asyncio.run(dispatcher.stalls(timedelta(hours=48))) >= 1
    assert asyncio.run(dispatcher.stalls(timedelta(hours=48))) == 0  # the same stall: not again
    kinds = [n.type for n in notify_store.notifications(order.id)]
    assert kinds == ["order.shipped", "order.delayed"]
    with session_scope(notify_store.engine) as s:  # the parcel moves, then stalls again: a new stall
        shipment = s.execute(select(Shipment).where(Shipment.order_id == order.id)).scalar_one()
        s.add(TrackingEvent(shipment_id=shipment.id, time=(DAY + timedelta(hours=50)).replace(tzinfo=None),
                            description_zh="到达杭州", description_en="Arrived in Hangzhou"))
    again = _dispatcher(notify_store, rasa_fake, Clock(DAY + timedelta(hours=99)))
    assert asyncio.run(again.stalls(timedelta(hours=48))) >= 1
    assert [n.type for n in notify_store.notifications(order.id)].count("order.delayed") == 2

"""The service record (kefu/store/record.py) and who may see it
(kefu/record/owner.py), on real SQLite and PostgreSQL with the seeded shop:
a customer's record holds their after-sale requests, tickets and past
conversations with topics, nothing of anyone else's, and its version moves
exactly when something the shopper sees moves."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from kefu.analytics.events import apply_event
from kefu.core import ids, responses
from kefu.core.config import load_settings
from kefu.core.labels import label
from kefu.record.owner import record_owner
from kefu.record.view import message, panel
from kefu.store.db import session_scope
from kefu.store.models import Customer, Order
from kefu.store.notify import NotifyStore
from kefu.store.record import RecordStore
from tests.conftest import NOW

DEMO_ORDER = "2611010000000003"
OTHER_ORDER = "2611010000000007"  # the other demo customer's


def _customer_of(engine, order_id: str) -> int:
    with session_scope(engine) as s:
        return int(s.execute(select(Order.customer_id).where(Order.id == order_id)).scalar_one())


def _conversation(engine, sender: str, *intents: str, start: float) -> None:
    """A past conversation as Rasa's events record it (kefu/analytics folds them)."""
    with session_scope(engine) as s:
        apply_event(s, {"event": "session_started", "timestamp": start}, sender)
        for n, intent in enumerate(intents, 1):
            apply_event(s, {"event": "user", "timestamp": start + n, "text": f"message {n}",
                            "parse_data": {"intent": {"name": intent, "confidence": 0.9}}}, sender)


def test_a_record_holds_the_customers_requests_tickets_and_conversations_only(engine, shop):
    demo, other = _customer_of(engine, DEMO_ORDER), _customer_of(engine, OTHER_ORDER)
    web = "web:" + "a" * 43
    NotifyStore(engine).follow(DEMO_ORDER, web)  # the web session proved a demo order
    returned = shop.create_aftersale(DEMO_ORDER, "return", "杯子碎了", now=NOW)
    ticket = shop.create_ticket("complaint", "快递员态度差", "shopper: ...", "web", ids.conversation_key(web), now=NOW)
    strangers = shop.create_ticket("other", "someone else", "...", "rest", ids.conversation_key("rest:someone"),
                                   customer_id=other, now=NOW)
    start = (NOW - timedelta(days=2)).timestamp()
    _conversation(engine, web, "greet", "request_return", "check_order_status", "request_return", "thanks",
                  start=start)
    _conversation(engine, "telegram:10001", "ask_stock", start=start + 3600)  # the demo customer's own chat id
    _conversation(engine, "rest:someone", "complain", start=start + 7200)

    record = RecordStore(engine).record(demo)
    assert {a.id for a in record.aftersales} >= {returned}
    assert all(a.order_id != OTHER_ORDER for a in record.aftersales)
    mine = {t.id for t in record.tickets}
    assert ticket.id in mine and strangers.id not in mine
    assert [c.topics for c in record.conversations] == [["ask_stock"], ["request_return", "check_order_status"]]

    theirs = RecordStore(engine).record(other)
    assert returned not in {a.id for a in theirs.aftersales}
    assert ticket.id not in {t.id for t in theirs.tickets} and strangers.id in {t.id for t in theirs.tickets}
    assert [c.topics for c in theirs.conversations] == []  # rest:someone never proved an order of theirs

    shown = panel(record, "zh")
    assert [s["key"] for s in shown["sections"]] == ["aftersales", "tickets", "conversations"]
    item = next(i for i in shown["sections"][0]["items"] if i["id"] == returned)
    assert item["status"] == "已提交，等待审核" and "审核" in item["next"] and DEMO_ORDER in item["headline"]
    english = message(record, "en")
    assert english.startswith("Your service record") and returned in english and "awaiting review" in english


def test_the_version_moves_when_a_status_does(engine, shop):
    demo = _customer_of(engine, DEMO_ORDER)
    returned = shop.create_aftersale(DEMO_ORDER, "return", "坏了", now=NOW)
    store = RecordStore(engine)
    before = store.record(demo).version
    assert store.record(demo).version == before  # nothing changed: the widget gets 304
    with engine.begin() as db:
        db.execute(text("update aftersale_requests set status = 'approved' where id = :i"), {"i": returned})
    assert store.record(demo).version != before


def test_only_the_customer_sees_the_record(engine, shop):
    demo = _customer_of(engine, DEMO_ORDER)
    ttl = load_settings().proof_ttl_seconds
    now = time.time()
    assert record_owner("telegram:10001", {}, shop) == demo  # vouched and linked
    assert record_owner("rest:10001", {}, shop) is None  # a REST sender merely named like it
    assert record_owner("web:" + "b" * 43, {}, shop) is None
    proven = {"verified_order": DEMO_ORDER, "verified_at": now - 60}
    assert record_owner("web:" + "b" * 43, proven, shop) == demo
    assert record_owner("mail:" + "c" * 32, proven, shop) == demo
    assert record_owner("web:" + "b" * 43, {**proven, "verified_at": now - ttl - 1}, shop) is None  # expired
    assert record_owner("web:" + "b" * 43, {**proven, "verified_at": now + 600}, shop) is None  # from the future
    assert record_owner("web:" + "b" * 43, {**proven, "verified_at": "soon"}, shop) is None
    assert record_owner("web:" + "b" * 43, {**proven, "verified_order": "2699999999999999"}, shop) is None
    assert record_owner("not an id", proven, shop) is None


def test_a_customer_without_anything_has_an_empty_record(engine):
    with session_scope(engine) as s:
        customer = Customer(name="新顾客", phone="13900000000", created_at=NOW.replace(tzinfo=None))
        s.add(customer)
        s.flush()
        customer_id = customer.id
    record = RecordStore(engine).record(customer_id)
    assert (record.aftersales, record.tickets, record.conversations) == ([], [], [])
    shown = panel(record, "zh")
    assert shown["sections"] == [] and shown["empty"]
    assert message(record, "zh").endswith(shown["empty"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_status_has_words_and_a_next_step(engine, shop, lang):
    demo = _customer_of(engine, DEMO_ORDER)
    returned = shop.create_aftersale(DEMO_ORDER, "return", "坏了", now=NOW)
    for status in ("requested", "approved", "received", "rejected", "refunded"):
        with engine.begin() as db:
            db.execute(text("update aftersale_requests set status = :s where id = :i"), {"s": status, "i": returned})
        item = next(i for i in panel(RecordStore(engine).record(demo), lang)["sections"][0]["items"]
                    if i["id"] == returned)
        assert responses.exists(f"utter_label_{status}") and item["status"] == label(status, lang)
        assert item["next"] and "{" not in item["next"], (status, item)

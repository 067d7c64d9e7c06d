"""Every custom action against a real, seeded shop (SQLite, and PostgreSQL
where present): what the shopper is told and what is written, including the
attacks (someone else's order, guessing, hostile and oversized input) and a
backend that is down."""
from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import text

from actions import aftersale, backend, dialogue, handoff, orders, products, satisfaction, tickets
from kefu.core import ids
from kefu.core import responses as kefu_responses
from kefu.store.db import make_engine
from kefu.store.desk import DeskStore
from kefu.store.shop import ShopStore

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
SHIPPED, PAID, RETURNABLE, LATE, UNPAID, FOOD, OTHER, RETURNED = (f"26110100000000{n:02d}" for n in range(1, 9))


@pytest.fixture(autouse=True)
def actions_use_the_test_shop(request):
    if "shop" in request.fixturenames:
        backend.use_store(request.getfixturevalue("shop"))
    yield
    backend.use_store(None)


#: Rasa connector name -> the prefix its connector gives conversation ids (kefu.core.ids)
PREFIX = {"rest": "rest", "socketio": "web", "webchat": "web", "telegram": "telegram", "wechat": "wechat",
          "email": "mail"}


def proof(order_id: str, age_seconds: float = 0) -> Dict[str, Any]:
    """The slots of a proof of ownership made ``age_seconds`` ago."""
    return {"verified_order": order_id, "verified_at": time.time() - age_seconds}


def tracker(
    slots: Optional[Dict[str, Any]] = None,
    text: str = "",
    intent: str = "inform",
    entities: Optional[List[Dict[str, Any]]] = None,
    sender: str = "stranger-1",
    channel: str = "rest",
    events: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[str] = None,
    set_now: Optional[Dict[str, Any]] = None,
    client: Optional[str] = None,
) -> Tracker:
    """A tracker as Rasa sends it; ``set_now`` are slots set after the
    latest message (what a form validates). A ``sender`` without a channel
    prefix gets the one the connector of ``channel`` would give it."""
    sender = sender if ":" in sender else f"{PREFIX[channel]}:{sender}"
    message = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": entities or [],
               "metadata": {"kefu": ids.trusted_metadata(client)}}
    history = list(events or []) + [{"event": "user", "text": text, "parse_data": message, "input_channel": channel}]
    history += [{"event": "slot", "name": k, "value": v} for k, v in (set_now or {}).items()]
    all_slots = {name: None for name in DOMAIN["slots"]}
    all_slots.update(slots or {})
    all_slots.update(set_now or {})
    return Tracker(sender, all_slots, message, history, False, None,
                   {"name": active_loop} if active_loop else {}, "action_listen")


def run(action, t: Tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, DOMAIN))
    return dispatcher.messages, events


def said(message: Dict[str, Any], lang: str = "zh") -> str:
    """The text the shopper reads: the message's response of domain.yml,
    filled with the values the action sent, as Rasa's NLG fills it."""
    values = {k: v for k, v in message.items() if v is not None and k != "response"}
    return kefu_responses.text(message["response"], lang, **values)


def responses(messages) -> List[str]:
    return [m.get("response") for m in messages]


def slot_values(events) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def count(shop: ShopStore, sql: str, **params) -> Any:
    with shop.engine.connect() as db:
        return db.execute(text(sql), params).scalar()


# -- proof of ownership ------------------------------------------------------------


def test_right_digits_prove_the_order(shop):
    form = orders.ValidateOrderStatusForm()
    messages, events = run(form, tracker({"order_id": SHIPPED}, "尾号5678", set_now={"phone_last4": "尾号5678"},
                                         active_loop="order_status_form"))
    assert slot_values(events)["verified_order"] == SHIPPED
    assert responses(messages) == []


def test_wrong_digits_or_someone_elses_order_are_refused_alike(shop):
    form = orders.ValidateOrderStatusForm()
    wrong, _ = run(form, tracker({"order_id": SHIPPED}, "1111", set_now={"phone_last4": "1111"}))
    other, events = run(form, tracker({"order_id": OTHER}, "5678", set_now={"phone_last4": "5678"}, sender="s2"))
    assert responses(wrong) == responses(other) == ["utter_verification_failed"]
    assert slot_values(events) == {"phone_last4": None, "order_id": None}


def test_three_wrong_proofs_lock_the_conversation(shop):
    form = orders.ValidateOrderStatusForm()
    for digits in ("1111", "2222", "3333"):
        run(form, tracker({"order_id": SHIPPED}, digits, set_now={"phone_last4": digits}, sender="guesser"))
    locked = tracker({"order_id": SHIPPED}, "5678", sender="guesser")
    assert asyncio.run(form.required_slots(["order_id", "phone_last4"], CollectingDispatcher(), locked, DOMAIN)) == []
    messages, _ = run(orders.ActionShowOrderStatus(), locked)
    assert responses(messages) == ["utter_verification_locked"]
    # another conversation is not affected
    fresh = tracker({"order_id": SHIPPED}, "", sender="someone-else")
    assert "phone_last4" in asyncio.run(form.required_slots(["order_id", "phone_last4"], CollectingDispatcher(), fresh,
                                                            DOMAIN))


def guess(digits: str, order_id: str = SHIPPED, sender: str = "guesser", client: Optional[str] = None):
    """One proof attempt through the form, as the shopper's reply would make it."""
    return run(orders.ValidateOrderStatusForm(), tracker({"order_id": order_id}, digits,
                                                         set_now={"phone_last4": digits},
                                                         sender=sender, client=client))


def needs_digits(order_id: str = SHIPPED, sender: str = "someone", client: Optional[str] = None) -> List[str]:
    return asyncio.run(orders.ValidateOrderStatusForm().required_slots(
        ["order_id", "phone_last4"], CollectingDispatcher(),
        tracker({"order_id": order_id}, sender=sender, client=client), DOMAIN))


def test_the_wrong_proof_that_locks_ends_the_form_in_the_same_call(shop):
    """The lock a form call read before the attempt is not trusted after it:
    the third wrong proof keeps the order, says nothing more, and ends the
    form (requested_slot None), so the next action explains the lock."""
    guess("1111", sender="third-time")
    guess("2222", sender="third-time")
    messages, events = guess("3333", sender="third-time")
    assert responses(messages) == []
    assert slot_values(events) == {"phone_last4": None, "requested_slot": None}


def test_a_form_call_reads_the_lock_once_and_again_after_an_attempt(shop, monkeypatch):
    """rasa-sdk asks a form for its required slots three times a call; the
    lock costs up to four queries, so one call reads it once per order, and
    again after it records a proof attempt (without the memo: 3, then 5)."""
    reads = []
    real = shop.proof_lock

    def counted(*args, **kwargs):
        reads.append(args[:3])
        return real(*args, **kwargs)

    monkeypatch.setattr(shop, "proof_lock", counted)
    run(orders.ValidateOrderStatusForm(), tracker({"order_id": SHIPPED}, sender="reader"))
    assert len(reads) == 1
    reads.clear()
    guess("1111", sender="reader")
    # before the attempt; after it; then for no order, the wrong one being forgotten
    assert [order for _, order, _ in reads] == [SHIPPED, SHIPPED, None]


def test_rotating_senders_do_not_buy_new_guesses_for_an_order(shop):
    """Five wrong proofs of one order, each from a fresh conversation: the
    order is locked for everyone (with a doubling wait), even with the right
    digits; another order is not."""
    for n in range(5):
        guess(f"{1000 + n}", sender=f"rotating-{n}")
    messages, events = guess("5678", sender="rotating-new")
    assert "verified_order" not in slot_values(events)
    assert needs_digits(sender="rotating-newer") == []  # the form ends: locked, a human is offered
    messages, _ = run(orders.ActionShowOrderStatus(), tracker({"order_id": SHIPPED}, sender="rotating-newer"))
    assert responses(messages) == ["utter_verification_locked"]
    assert "phone_last4" in needs_digits(order_id=RETURNABLE, sender="rotating-other")


def test_an_unknown_order_locks_like_a_real_one(shop):
    """A lock says nothing about whether an order exists."""
    for n in range(5):
        guess(f"{1000 + n}", order_id="2699999999999999", sender=f"probe-{n}")
    assert needs_digits(order_id="2699999999999999", sender="probe-new") == []


def test_one_address_cannot_guess_across_orders_and_senders(shop, monkeypatch):
    monkeypatch.setenv("KEFU_PROOF_PER_CLIENT", "4")
    for n, order_id in enumerate([SHIPPED, PAID, RETURNABLE, LATE]):
        guess("0000", order_id=order_id, sender=f"spray-{n}", client="203.0.113.7")
    assert needs_digits(order_id=UNPAID, sender="spray-new", client="203.0.113.7") == []
    assert "phone_last4" in needs_digits(order_id=UNPAID, sender="spray-new", client="198.51.100.1")


def test_a_guessing_wave_pauses_every_proof(shop, monkeypatch):
    monkeypatch.setenv("KEFU_PROOF_EVERYONE", "3")
    for n, order_id in enumerate([SHIPPED, PAID, RETURNABLE]):
        guess("0000", order_id=order_id, sender=f"wave-{n}", client=f"203.0.113.{n}")
    assert needs_digits(order_id=UNPAID, sender="innocent", client="198.51.100.1") == []


def test_full_width_digits_prove_like_ascii_ones(shop):
    messages, events = guess("５６７８", sender="ime-user")
    assert slot_values(events)["verified_order"] == SHIPPED and responses(messages) == []


def test_a_proof_expires(shop, monkeypatch):
    monkeypatch.setenv("KEFU_PROOF_TTL_SECONDS", "1800")
    fresh, _ = run(orders.ActionShowOrderStatus(), tracker({"order_id": SHIPPED, **proof(SHIPPED, 60)}))
    stale, _ = run(orders.ActionShowOrderStatus(), tracker({"order_id": SHIPPED, **proof(SHIPPED, 3600)}))
    assert responses(fresh) == ["utter_order_status"]
    assert responses(stale) == ["utter_verification_failed"]


def test_a_new_session_keeps_the_language_and_forgets_the_proof(shop):
    events = asyncio.run(dialogue.ActionSessionStart().run(
        CollectingDispatcher(), tracker({"language": "en", "order_id": SHIPPED, **proof(SHIPPED)}), DOMAIN))
    assert [e["event"] for e in events] == ["session_started", "slot", "action"]
    assert slot_values(events) == {"language": "en"}


@pytest.mark.parametrize("value", ["' OR '1'='1", "2611010000000001; drop table orders", "1" * 5000, "", "12345"])
def test_hostile_or_malformed_order_ids_are_rejected(shop, value):
    form = orders.ValidateOrderStatusForm()
    messages, events = run(form, tracker({}, value, set_now={"order_id": value}))
    if re.fullmatch(r".*(?<!\d)\d{16}(?!\d).*", value):
        assert slot_values(events)["order_id"] == "2611010000000001"
    else:
        assert responses(messages) == ["utter_invalid_order_id"]
        assert slot_values(events)["order_id"] is None
    assert count(shop, "select count(*) from orders") > 0


@pytest.mark.parametrize("value", ["12", "5678 1234", "x" * 10000])
def test_ambiguous_digits_are_asked_again_not_guessed(shop, value):
    messages, events = run(orders.ValidateOrderStatusForm(),
                           tracker({"order_id": SHIPPED}, value, set_now={"phone_last4": value}))
    assert responses(messages) == ["utter_invalid_phone_last4"]
    assert count(shop, "select count(*) from verification_attempts") == 0


# -- order status ---------------------------------------------------------------------


def test_order_status_masks_the_receiver(shop):
    messages, _ = run(orders.ActionShowOrderStatus(), tracker({"order_id": SHIPPED, **proof(SHIPPED)}))
    [message] = messages
    assert message["response"] == "utter_order_status"
    assert message["status"] == "已发货，运输中" and "iPhone 15" in message["items"]
    assert "138********" in message["details"] and "5678" not in message["details"]
    assert "张*" in message["details"] and "张三" not in message["details"]
    assert "预计" in message["details"]


def test_order_status_in_english(shop):
    messages, _ = run(orders.ActionShowOrderStatus(),
                      tracker({"order_id": SHIPPED, **proof(SHIPPED), "language": "en"}))
    assert messages[0]["status"] == "shipped, on its way" and "Expected delivery" in messages[0]["details"]


def test_an_unproven_order_is_not_shown(shop):
    messages, _ = run(orders.ActionShowOrderStatus(), tracker({"order_id": OTHER, **proof(SHIPPED)}))
    assert responses(messages) == ["utter_verification_failed"]


def test_a_known_shopper_needs_no_proof_and_sees_their_orders(shop):
    known = tracker({"order_id": SHIPPED}, sender="10001", channel="telegram")  # 张三's Telegram id
    assert asyncio.run(orders.ValidateOrderStatusForm().required_slots(
        ["order_id", "phone_last4"], CollectingDispatcher(), known, DOMAIN)) == ["order_id"]
    messages, _ = run(orders.ActionListMyOrders(), known)
    listed = messages[0]["orders"]
    assert SHIPPED in listed or PAID in listed
    assert OTHER not in listed


@pytest.mark.parametrize("sender,channel", [("10001", "rest"), ("rest:10001", "telegram"), ("web:10001", "telegram"),
                                            ("10001", "socketio"), ("zhangsan@example.com", "email"),
                                            ("10001", "email"), ("10001:telegram", "rest")])
def test_identities_a_client_can_choose_prove_nothing(shop, sender, channel):
    # 张三's Telegram id on another channel, however the latest message claims
    # to have come in: only the conversation id's own prefix counts
    messages, events = run(orders.ActionListMyOrders(), tracker(sender=sender, channel=channel))
    assert messages == [] and slot_values(events) == {"requested_slot": None}
    assert asyncio.run(orders.ValidateOrderStatusForm().required_slots(
        ["order_id", "phone_last4"], CollectingDispatcher(), tracker({"order_id": SHIPPED}, sender=sender,
                                                                      channel=channel),
        DOMAIN)) == ["order_id", "phone_last4"]


# -- cancel and change address ------------------------------------------------------------


def test_cancel_after_confirmation(shop):
    proven = {"order_id": PAID, **proof(PAID)}
    messages, _ = run(orders.ActionCancelOrder(), tracker({**proven, "cancel_confirmed": False}))
    assert responses(messages) == ["utter_cancel_kept"]
    assert shop.get_order(PAID).status == "paid"
    messages, events = run(orders.ActionCancelOrder(), tracker({**proven, "cancel_confirmed": True}))
    assert responses(messages) == ["utter_order_cancelled"]
    assert shop.get_order(PAID).status == "cancelled"
    assert slot_values(events)["cancel_confirmed"] is None


def test_a_shipped_order_is_not_cancelled_and_the_reason_is_given(shop):
    messages, _ = run(orders.ActionCancelOrder(),
                      tracker({"order_id": SHIPPED, **proof(SHIPPED), "cancel_confirmed": True}))
    assert messages[0]["response"] == "utter_cannot_cancel" and messages[0]["reason"] == "已经发货了"
    assert "拒收" in messages[0]["advice"]
    assert shop.get_order(SHIPPED).status == "shipped"


def test_change_address_validation_and_change(shop):
    form = orders.ValidateChangeAddressForm()
    for bad in ("短", "x" * 1000):
        messages, events = run(form, tracker({"order_id": UNPAID}, bad, set_now={"new_address": bad}))
        assert responses(messages) == ["utter_invalid_address"]
    address = "北京市朝阳区建国路1号院 王五 13700000000"
    messages, _ = run(orders.ActionChangeAddress(), tracker(
        {"order_id": UNPAID, **proof(UNPAID), "new_address": address, "address_confirmed": True}))
    assert responses(messages) == ["utter_address_changed"]
    assert shop.get_order(UNPAID).address == address
    messages, _ = run(orders.ActionChangeAddress(), tracker(
        {"order_id": SHIPPED, **proof(SHIPPED), "new_address": address, "address_confirmed": True}))
    assert responses(messages) == ["utter_cannot_change_address"]
    assert shop.get_order(SHIPPED).address != address


# -- returns, exchanges, refunds ------------------------------------------------------------


def test_return_request_created_with_number_and_next_steps(shop):
    messages, _ = run(aftersale.ActionSubmitAftersale(), tracker(
        {"order_id": RETURNABLE, **proof(RETURNABLE), "aftersale_kind": "return", "aftersale_reason": "尺码小"}))
    [message] = messages
    assert message["response"] == "utter_aftersale_created" and message["kind"] == "退货"
    assert re.fullmatch(r"AS\d{8}", message["aftersale_id"]) and "1-3个工作日" in message["next_steps"]
    assert count(shop, "select kind from aftersale_requests where id = :i", i=message["aftersale_id"]) == "return"


@pytest.mark.parametrize("order_id,kind,reason", [(LATE, "return", "7天"), (FOOD, "return", "食品"),
                                                  (SHIPPED, "exchange", "签收")])
def test_ineligible_requests_are_refused_with_the_reason_and_a_human_offered(shop, order_id, kind, reason):
    before = count(shop, "select count(*) from aftersale_requests")
    messages, _ = run(aftersale.ActionSubmitAftersale(), tracker(
        {"order_id": order_id, **proof(order_id), "aftersale_kind": kind, "aftersale_reason": "不想要"}))
    assert responses(messages) == ["utter_aftersale_not_eligible", "utter_offer_human"]
    assert reason in messages[0]["reason"]
    assert count(shop, "select count(*) from aftersale_requests") == before


def test_where_is_my_refund(shop):
    proven = {"order_id": RETURNED, **proof(RETURNED), "aftersale_kind": "return"}
    slots = asyncio.run(aftersale.ValidateAftersaleForm().required_slots(
        ["order_id", "phone_last4", "aftersale_reason"], CollectingDispatcher(), tracker(proven), DOMAIN))
    assert "aftersale_reason" not in slots  # an existing request: report, don't ask
    messages, _ = run(aftersale.ActionSubmitAftersale(), tracker(proven))
    assert messages[0]["response"] == "utter_aftersale_status" and "退款" in messages[0]["status"]


def test_aftersale_status_by_number_only_for_its_owner(shop):
    mine, _ = run(aftersale.ActionAftersaleStatus(), tracker({"aftersale_id": "AS00000001"}, sender="10001",
                                                             channel="telegram"))
    assert responses(mine) == ["utter_aftersale_status"]
    theirs, _ = run(aftersale.ActionAftersaleStatus(), tracker({"aftersale_id": "AS00000001"}))
    assert responses(theirs) == ["utter_aftersale_unknown"]


# -- tickets ----------------------------------------------------------------------------------


def test_complaint_ticket_is_high_priority_with_a_masked_excerpt(shop):
    history = [{"event": "user", "text": "我手机13912345678 快递员把包裹扔门口"}, {"event": "bot", "text": "很抱歉"}]
    detail = "快递员态度太差，包裹直接扔门口，电话13912345678"
    assert tickets.ValidateComplaintForm().validate_complaint_detail(
        "差", CollectingDispatcher(), tracker(), DOMAIN) == {"complaint_detail": None}
    messages, _ = run(tickets.ActionSubmitComplaint(), tracker({"complaint_detail": detail}, events=history))
    number = messages[0]["ticket_id"]
    with shop.engine.connect() as db:
        row = db.execute(text("select category, priority, status, excerpt, summary from tickets where id = :i"),
                         {"i": number}).one()
    assert row[:3] == ("complaint", 1, "open")
    assert "13912345678" not in row[3] + row[4] and "139********" in row[3]


def test_invoice_request_becomes_a_ticket_for_finance(shop):
    messages, _ = run(tickets.ActionSubmitInvoice(), tracker(
        {"order_id": RETURNABLE, **proof(RETURNABLE), "invoice_title": "杭州某某科技有限公司"}))
    assert responses(messages) == ["utter_invoice_requested"]
    assert count(shop, "select category from tickets where order_id = :o", o=RETURNABLE) == "invoice"


def test_ticket_status_only_for_whoever_opened_it(shop):
    mine, _ = run(tickets.ActionTicketStatus(), tracker({"ticket_id": "TK00000001"}, sender="10001",
                                                        channel="telegram"))
    assert mine[0]["response"] == "utter_ticket_status" and mine[0]["status"] == "处理中"
    theirs, _ = run(tickets.ActionTicketStatus(), tracker({"ticket_id": "TK00000001"}))
    assert responses(theirs) == ["utter_ticket_unknown"]


# -- products -----------------------------------------------------------------------------------


def test_product_price_from_the_catalogue(shop):
    entity = [{"entity": "product", "value": "AirPods Pro"}]
    messages, _ = run(products.ActionProductInfo(), tracker(text="AirPods Pro多少钱", entities=entity))
    assert "AirPods Pro" in said(messages[0]) and "¥" in said(messages[0]) and "可选款式" in said(messages[0])
    unknown, _ = run(products.ActionProductInfo(), tracker(entities=[{"entity": "product", "value": "火星车"}]))
    assert responses(unknown) == ["utter_product_unknown"]
    nothing, _ = run(products.ActionProductInfo(), tracker())
    assert responses(nothing) == ["utter_ask_which_product"]


def test_stock_is_read_live(shop):
    variants = shop.find_products("小米14")
    with shop.engine.begin() as db:
        db.execute(text("update products set stock = 0 where base_name = '小米14'"))
        db.execute(text("update products set stock = 3 where id = :i"), {"i": variants[0].id})
    messages, _ = run(products.ActionCheckStock(), tracker(entities=[{"entity": "product", "value": "小米14"}],
                                                           slots={"language": "en"}))
    details = said(messages[0], "en")
    assert f"{variants[0].name}: in stock (3 left)" in details and "out of stock" in details


def test_warranty_of_a_product(shop):
    messages, _ = run(products.ActionWarrantyInfo(), tracker(entities=[{"entity": "product", "value": "戴森吹风机"}]))
    assert "戴森吹风机享受24个月官方保修" in said(messages[0])
    general, _ = run(products.ActionWarrantyInfo(), tracker(slots={"language": "en"}))
    assert "12-month warranty" in said(general[0], "en")


# -- rating, handoff ------------------------------------------------------------------------------


@pytest.mark.parametrize("said,score,comment", [("4分 物流有点慢", 4, "物流有点慢"), ("/inform", 5, None)])
def test_rating_is_stored_with_its_comment(shop, said, score, comment):
    entities = [{"entity": "rating", "value": "5"}] if said.startswith("/") else []
    messages, _ = run(satisfaction.ActionSaveRating(), tracker(text=said, entities=entities))
    assert responses(messages) == ["utter_thanks_for_rating"]
    with shop.engine.connect() as db:
        assert tuple(db.execute(text("select score, comment from satisfaction_ratings")).one()) == (score, comment)


def test_no_rating_in_the_answer_stores_nothing(shop):
    messages, _ = run(satisfaction.ActionSaveRating(), tracker(text="你们周末发货吗"))
    assert responses(messages) == ["utter_anything_else"]
    assert count(shop, "select count(*) from satisfaction_ratings") == 0


@pytest.fixture
def agents_at_work(tmp_path, monkeypatch):
    hours = tmp_path / "hours.yml"
    days = {d: ["00:00", "23:59:59"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    hours.write_text(yaml.safe_dump({"timezone": "UTC", "weekly": days}))
    monkeypatch.setenv("KEFU_SERVICE_HOURS", str(hours))


@pytest.fixture
def agents_off_duty(tmp_path, monkeypatch):
    hours = tmp_path / "hours.yml"
    hours.write_text(yaml.safe_dump({"timezone": "UTC", "weekly": {}}))
    monkeypatch.setenv("KEFU_SERVICE_HOURS", str(hours))


def test_handoff_queues_with_a_summary_and_silences_the_bot(shop, agents_at_work):
    history = [{"event": "user", "text": "x", "parse_data": {"intent": {"name": "check_order_status"}}}]
    messages, events = run(handoff.ActionHandoff(), tracker({**proof(SHIPPED)}, intent="request_human",
                                                            events=history, sender="wx-1", channel="wechat"))
    assert messages[0]["response"] == "utter_handoff" and messages[0]["position"] == 1
    assert slot_values(events)["handoff_active"] is True
    with shop.engine.connect() as db:
        channel, reason, summary, status = db.execute(
            text("select channel, reason, summary, status from handoffs")).one()
    assert (channel, reason, status) == ("wechat", "requested", "waiting")
    assert "check_order_status" in summary and SHIPPED in summary
    # the shopper's next words reach the desk, the bot says nothing
    relayed, _ = run(handoff.ActionRelayToAgent(), tracker({"handoff_active": True}, "还在吗 我急用", sender="wx-1",
                                                           channel="wechat"))
    assert relayed == []
    with shop.engine.connect() as db:
        assert db.execute(
            text("select text from handoff_messages where sender = 'shopper'")).scalar() == "还在吗 我急用"


def test_after_hours_a_ticket_instead_of_a_queue(shop, agents_off_duty):
    messages, events = run(handoff.ActionHandoff(), tracker(intent="request_human", sender="late-1"))
    assert messages[0]["response"] == "utter_handoff_closed" and re.fullmatch(r"TK\d{8}", messages[0]["ticket_id"])
    assert "handoff_active" not in slot_values(events)
    assert count(shop, "select count(*) from handoffs") == 0
    assert count(shop, "select category from tickets where id = :i", i=messages[0]["ticket_id"]) == "handoff"


def test_agent_replies_are_delivered_once_and_handback_asks_for_a_rating(shop, agents_at_work):
    run(handoff.ActionHandoff(), tracker(intent="request_human", sender="web-9"))
    with shop.engine.begin() as db:
        handoff_id = db.execute(text("select id from handoffs")).scalar()
        db.execute(text("insert into handoff_messages (handoff_id, sender, text, created_at, delivered) "
                        "values (:h, 'agent', '您好，我是客服小王', :t, :f)"),
                   {"h": handoff_id, "t": "2026-11-25 10:00:00", "f": False})
    first, _ = run(handoff.ActionAgentMessage(), tracker(sender="web-9"))
    again, _ = run(handoff.ActionAgentMessage(), tracker(sender="web-9"))
    assert [m.get("text") for m in first] == ["您好，我是客服小王"] and again == []
    messages, events = run(handoff.ActionHandback(), tracker({"handoff_active": True}, sender="web-9"))
    assert responses(messages) == ["utter_handback", "utter_ask_rating"]
    assert slot_values(events)["handoff_active"] is False


@pytest.mark.parametrize("said,escalated", [("快递员把包裹扔门口了 太过分了", False),
                                            ("再不处理我就打12315投诉你们", True)])
def test_serious_complaints_go_to_a_person(shop, agents_at_work, said, escalated):
    messages, events = run(handoff.ActionEscalateSeriousComplaint(),
                           tracker(text=said, intent="complain", sender=f"c-{escalated}"))
    assert ("handoff_active" in slot_values(events)) == escalated
    assert responses(messages) == (["utter_handoff"] if escalated else ["utter_anything_else"])


def test_a_handoff_carries_the_risk_and_the_complaint_category(shop, agents_at_work):
    said = "快递员态度恶劣还把包裹摔坏了，你们不处理我就找律师起诉"
    run(handoff.ActionHandoff(), tracker(text=said, intent="complain", sender="risky-1",
                                         slots={"complaint_detail": said}))
    [row] = DeskStore(shop.engine).queue(0)["waiting"]
    assert row.summary["risk"]["signals"] == ["legal"] and said not in json.dumps(row.summary, ensure_ascii=False)
    assert row.summary["complaint"]["category"] in ("logistics", "service", "quality")
    assert (row.skill_group, row.priority) == ("complaints", 3)


def test_a_complaint_ticket_is_categorised(shop):
    detail = "收到的是假货，防伪码在官网查不到，你们虚假宣传"
    run(tickets.ActionSubmitComplaint(), tracker({"complaint_detail": detail}, sender="cat-1"))
    assert count(shop, "select complaint_category from tickets where category = 'complaint'") == "fraud"


def test_a_blocked_conversation_gets_the_notice_until_unblocked(shop):
    store = DeskStore(shop.engine)
    agent = store.add_agent("boss", "Boss", "a long password 1")
    store.queue_handoff("rest:rude-1", "rest", "requested", {"intents": []}, "zh")
    [waiting] = store.queue(agent)["waiting"]
    assert store.block(waiting.id, agent, "repeated abuse").ok
    messages, events = run(handoff.ActionBlock(), tracker(sender="rude-1"))
    assert responses(messages) == ["utter_blocked"] and slot_values(events)["conversation_blocked"] is True
    assert slot_values(events)["handoff_active"] is False
    blocked = {"conversation_blocked": True}
    messages, events = run(handoff.ActionBlockedNotice(), tracker(blocked, sender="rude-1"))
    assert responses(messages) == ["utter_blocked"]
    nothing, _ = run(handoff.ActionBlock(), tracker(sender="someone-else"))  # the store decides, not the caller
    assert nothing == []
    assert store.unblock(waiting.id, agent).ok
    messages, events = run(handoff.ActionBlockedNotice(), tracker(blocked, sender="rude-1"))
    assert responses(messages) == ["utter_unblocked"] and slot_values(events)["conversation_blocked"] is False


# -- a backend that is down -----------------------------------------------------------------------------


@pytest.mark.parametrize("action,slots", [
    (orders.ActionShowOrderStatus(), {"order_id": SHIPPED}),
    (orders.ActionCancelOrder(), {"order_id": PAID, **proof(PAID), "cancel_confirmed": True}),
    (aftersale.ActionSubmitAftersale(), {"order_id": RETURNABLE, **proof(RETURNABLE)}),
    (tickets.ActionSubmitComplaint(), {"complaint_detail": "太慢了太慢了太慢了"}),
    (products.ActionCheckStock(), {"product": "小米14"}),
    (handoff.ActionHandoff(), {}),
])
def test_backend_down_gets_a_polite_answer(action, slots):
    backend.use_store(ShopStore(make_engine("postgresql://kefu@127.0.0.1:9/nowhere")))
    messages, events = run(action, tracker(slots))
    assert responses(messages) == ["utter_backend_down"]
    assert events == []


def test_backend_down_inside_a_form(tmp_path):
    backend.use_store(ShopStore(make_engine("postgresql://kefu@127.0.0.1:9/nowhere")))
    messages, events = run(orders.ValidateOrderStatusForm(), tracker({"order_id": SHIPPED}, "5678",
                                                                     set_now={"phone_last4": "5678"}))
    assert responses(messages) == ["utter_backend_down"]
    # the unchecked digits are not kept: the form asks for them again
    assert slot_values(events) == {"phone_last4": None}


def test_where_is_my_refund_also_finds_the_refund_of_a_return(shop):
    proven = {"order_id": RETURNED, **proof(RETURNED), "aftersale_kind": "refund"}
    messages, _ = run(aftersale.ActionSubmitAftersale(), tracker(proven))
    assert messages[0]["response"] == "utter_aftersale_status" and messages[0]["aftersale_id"] == "AS00000001"


def test_no_reason_is_asked_for_a_request_that_will_be_refused(shop):
    late = {"order_id": LATE, **proof(LATE), "aftersale_kind": "return"}
    slots = asyncio.run(aftersale.ValidateAftersaleForm().required_slots(
        ["order_id", "phone_last4", "aftersale_reason"], CollectingDispatcher(), tracker(late), DOMAIN))
    assert slots == ["order_id"]
    fine = {"order_id": RETURNABLE, **proof(RETURNABLE), "aftersale_kind": "return"}
    slots = asyncio.run(aftersale.ValidateAftersaleForm().required_slots(
        ["order_id", "phone_last4", "aftersale_reason"], CollectingDispatcher(), tracker(fine), DOMAIN))
    assert slots == ["order_id", "aftersale_reason"]


def test_the_first_failure_offers_a_person_the_second_hands_over(shop, agents_at_work):
    messages, events = run(handoff.ActionDefaultFallback(), tracker(text="qwpoeiru", sender="lost-1"))
    assert responses(messages) == ["utter_default"] and events[0]["event"] == "rewind"
    assert count(shop, "select count(*) from handoffs") == 0
    failed = [{"event": "action", "name": "action_two_stage_fallback"}]
    messages, events = run(handoff.ActionDefaultFallback(), tracker(text="zxcv", sender="lost-1", events=failed))
    assert responses(messages) == ["utter_fallback_handoff", "utter_handoff"]
    assert slot_values(events)["handoff_active"] is True
    assert count(shop, "select reason from handoffs") == "fallback"


def test_tickets_from_one_conversation_or_address_are_limited(shop):
    detail = {"complaint_detail": "快递员态度太差，包裹直接扔在门口"}
    said = [responses(run(tickets.ActionSubmitComplaint(), tracker(detail, sender="spammer"))[0])[0] for _ in range(7)]
    assert said[:6] == ["utter_complaint_ticket"] * 6 and said[6] == "utter_too_many_requests"
    rotating = [responses(run(tickets.ActionSubmitComplaint(),
                              tracker(detail, sender=f"rot-{n}", client="203.0.113.9"))[0])[0]
                for n in range(51)]
    assert rotating.count("utter_complaint_ticket") == 50 and rotating[-1] == "utter_too_many_requests"
    assert count(shop, "select count(*) from tickets where category = 'complaint'") == 56

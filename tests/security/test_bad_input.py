"""Attack 9, bad input: no size limit on REST, a JSON array gave HTTP 500, a
request without ``sender`` landed in a shared ``default`` conversation,
full-width digits failed a proof (tested in test_guessing), a lone
surrogate broke analytics ingestion for good, a channel name with HTML
went unescaped into the report, and handoffs and tickets were unlimited
from rotating senders. Every one is now a clear 4xx or a polite answer."""
from __future__ import annotations

import json
import time

import httpx
import pytest
import requests
from sqlalchemy import create_engine, text

from kefu.analytics.events import apply_event
from kefu.analytics.report import _table
from kefu.store.db import make_engine, migrate, session_scope
from tests.security.conftest import unique


def _post(outsider, raw: bytes, headers=None) -> requests.Response:
    return requests.post(f"{outsider.base}/webhooks/rest/webhook", data=raw,
                         headers={"Content-Type": "application/json", **(headers or {})}, timeout=30)


@pytest.mark.e2e
@pytest.mark.parametrize("raw, status, error", [
    (b"[1, 2, 3]", 400, "not_an_object"),
    (b'"just a string"', 400, "not_an_object"),
    (b"{broken", 400, "not_json"),
    (b"", 400, "not_json"),
    ('{"message": "我的订单"}'.encode(), 400, "sender_required"),
    (b'{"sender": null, "message": "hi"}', 400, "sender_required"),
    (b'{"sender": "me"}', 400, "message_invalid"),
    (b'{"sender": "me", "message": 42}', 400, "message_invalid"),
    (b'{"sender": "me", "message": "\\ud800 lone surrogate"}', 400, "message_invalid"),
    (b'{"sender": "me", "message": "   "}', 400, "message_empty"),
    (b'{"sender": "<b>x</b>", "message": "hi"}', 400, "bad_sender"),
])
def test_malformed_rest_bodies_are_a_4xx_with_a_reason(outsider, raw, status, error):
    reply = _post(outsider, raw)
    assert reply.status_code == status and reply.json()["error"] == error


@pytest.mark.e2e
def test_huge_messages_are_refused_before_any_work(outsider):
    started = time.monotonic()
    reply = _post(outsider, json.dumps({"sender": unique("big"), "message": "长" * 10_000}).encode())
    assert reply.status_code == 413 and time.monotonic() - started < 1.0
    reply = _post(outsider, json.dumps({"sender": unique("big"), "message": "x" * 1_000_000}).encode())
    assert reply.status_code == 413
    # the other channels cap their bodies too
    assert httpx.post(f"{outsider.base}/webhooks/telegram/webhook", content=b"x" * 1_100_000, timeout=30,
                      headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}).status_code in (403, 413)
    wx = outsider.wechat()
    query, _ = wx.post(wx.text("oBigBody", "x"))
    assert outsider.wechat_post(query, b"<xml>" + b"x" * 70_000 + b"</xml>").status_code == 413
    # and the server is fine
    assert "小客" in outsider.say(unique("after-big"), "你好")


@pytest.mark.e2e
def test_rotating_senders_from_one_address_cannot_flood_the_queue(outsider):
    client = "203.0.113.201"
    answers = [outsider.say(unique("flood"), "转人工", client) for _ in range(31)]
    assert all("转接人工" in a for a in answers[:30])
    assert "请求有点多" in answers[30] and "转接人工" not in answers[30]
    with create_engine(outsider.shop_url).connect() as db:
        queued = db.execute(text("select count(*) from handoffs where conversation_id like 'rest:flood-%'")).scalar()
    assert queued == 30
    # another address is served
    assert "转接人工" in outsider.say(unique("flood"), "转人工", "192.0.2.201")


def test_an_invalid_code_point_in_stored_events_does_not_stop_analytics(tmp_path):
    """Events stored before the edge cleaned text (or by another tool) can
    hold a lone surrogate; folding them replaces it and goes on."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    migrate(url)
    engine = make_engine(url)
    with session_scope(engine) as s:
        apply_event(s, {"event": "user", "text": "坏\ud800字 13800001111", "timestamp": time.time(),
                        "parse_data": {"intent": {"name": "greet", "confidence": 0.2}}}, sender_id="rest:x")
        apply_event(s, {"event": "user", "text": "下一条", "timestamp": time.time() + 1,
                        "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}, sender_id="rest:x")
    with engine.connect() as db:
        texts = [r[0] for r in db.execute(text("select text from analytics_turns order by id"))]
    assert texts == ["坏?字 <phone>", "下一条"]


def test_html_in_a_report_table_is_escaped():
    markup = _table([{"channel": '<img src=x onerror="alert(1)">', "count": 3}], "channel", "conversations.by_channel")
    assert "<img" not in markup and "&lt;img" in markup and 'onerror="' not in markup

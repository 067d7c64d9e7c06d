"""POST /shop/events over the wire: only a signed, fresh, well-formed event
about a known order is taken, once; it updates the order and queues its
news for the conversation that proved it owns the order."""
from __future__ import annotations

import time
import uuid

from kefu.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from kefu.store.shop import ShopStore
from tests.desk.conftest import wait_for
from tests.notify.conftest import WEBHOOK_SECRET, order_with, signed


def _shipped(order_id: str, key: str | None = None) -> dict:
    return {"id": key or f"evt-{uuid.uuid4().hex[:12]}", "type": "order.shipped", "order_id": order_id,
            "occurred_at": "2026-12-02T05:00:00Z", "data": {"carrier": "SF", "tracking_no": "SF7788990011"}}


def test_a_signed_event_updates_the_order_and_queues_its_news(shop_client, shop_db, notify_store):
    order = order_with(shop_db, "paid")
    notify_store.follow(order.id, "telegram:424242")
    response = shop_client.post("/shop/events", **signed(_shipped(order.id)))
    assert response.status_code == 202 and response.json() == {"status": "queued"}
    [news] = notify_store.notifications(order.id)
    assert news.conversation_id == "telegram:424242" and news.type == "order.shipped"
    assert news.params == {"order_id": order.id, "carrier": "SF", "tracking_no": "SF7788990011"}
    shop = ShopStore(notify_store.engine)
    assert shop.get_order(order.id).status == "shipped"
    assert shop.tracking(order.id).tracking_no == "SF7788990011"


def test_a_resent_event_is_taken_once(shop_client, shop_db, notify_store):
    order = order_with(shop_db, "paid")
    event = _shipped(order.id)
    assert shop_client.post("/shop/events", **signed(event)).status_code == 202
    again = shop_client.post("/shop/events", **signed(event))  # signed anew, same key
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert len(notify_store.notifications(order.id)) == 1


def test_unsigned_forged_and_replayed_events_are_refused(shop_client, shop_db, notify_store):
    order = order_with(shop_db, "paid")
    event = _shipped(order.id)
    bare = signed(event)
    bare["headers"] = {"Content-Type": "application/json"}
    assert shop_client.post("/shop/events", **bare).status_code == 401
    forged = shop_client.post("/shop/events", **signed(event, secret="not-the-shops-secret-at-all"))
    assert forged.status_code == 401 and forged.json() == {"status": "bad_signature"}
    replay = shop_client.post("/shop/events", **signed(event, at=time.time() - 3600))
    assert replay.status_code == 401 and replay.json() == {"status": "stale"}
    tampered = signed(event)
    tampered["content"] = tampered["content"].replace(b"SF7788990011", b"SF0000000000")
    assert shop_client.post("/shop/events", **tampered).status_code == 401
    assert notify_store.notifications(order.id) == []


def test_malformed_oversized_and_unknown_events_get_4xx(shop_client, shop_db, notify_store):
    order = order_with(shop_db, "paid")
    cases = [
        ({**_shipped(order.id), "type": "order.exploded"}, 400, "bad_type"),
        ({**_shipped(order.id), "order_id": "12345"}, 400, "bad_order_id"),
        ({**_shipped(order.id), "id": "has spaces"}, 400, "bad_id"),
        ({**_shipped(order.id), "id": "kefu-stall:1:1"}, 400, "bad_id"),  # Kefu's own keys
        ({**_shipped(order.id), "data": {"tracking_no": "<script>"}}, 400, "bad_tracking_no"),
        ({**_shipped(order.id), "data": {"amount_cents": -5}}, 400, "bad_amount_cents"),
        ({**_shipped(order.id), "data": {"owner": "someone else"}}, 400, "bad_data"),
        ({**_shipped(order.id), "occurred_at": "yesterday"}, 400, "bad_occurred_at"),
        (_shipped("2699999999999999"), 422, "unknown_order"),
        ({**_shipped(order.id), "type": "aftersale.approved", "data": {"aftersale_id": "AS99999999"}},
         422, "unknown_order"),
    ]
    for event, status, outcome in cases:
        response = shop_client.post("/shop/events", **signed(event))
        assert (response.status_code, response.json()["status"]) == (status, outcome), event
    not_json = signed(_shipped(order.id))
    not_json["content"] = b"\xff\xfe not json"
    stamp = not_json["headers"][TIMESTAMP_HEADER]
    not_json["headers"][SIGNATURE_HEADER] = sign(WEBHOOK_SECRET, stamp, not_json["content"])
    assert shop_client.post("/shop/events", **not_json).status_code == 400
    huge = _shipped(order.id)
    huge["data"] = {"reason": "x" * 200}
    big = signed({**huge, "padding": "y" * 20_000})
    assert shop_client.post("/shop/events", **big).status_code == 413
    assert notify_store.notifications(order.id) == []


def test_an_order_nobody_proved_is_recorded_but_told_to_no_one(shop_client, shop_db, notify_store):
    order = order_with(shop_db, "paid")
    response = shop_client.post("/shop/events", **signed(_shipped(order.id)))
    assert response.status_code == 202 and response.json() == {"status": "no_recipient"}
    [news] = notify_store.notifications(order.id)
    assert (news.status, news.reason, news.conversation_id) == ("skipped", "no_recipient", None)


def test_the_outbox_says_it_through_rasa_on_the_shoppers_connector(shop_client, shop_db, notify_store, rasa_fake):
    order = order_with(shop_db, "paid")
    notify_store.follow(order.id, "telegram:515151")
    assert shop_client.post("/shop/events", **signed(_shipped(order.id))).status_code == 202
    sent = wait_for(lambda: [n for n in notify_store.notifications(order.id) if n.status == "sent"])
    call = rasa_fake.executed("action_notify")[-1]
    assert call["conversation_id"] == "telegram:515151" and call["query"]["output_channel"] == "telegram"
    assert sent[0].attempts == 1 and sent[0].sent_at is not None


def test_a_body_sent_in_small_chunks_is_read_whole(shop_client, shop_db, notify_store):
    """A shop's client may stream the body without a length (chunked): the
    signature is checked over all of it, not over the first piece."""
    order = order_with(shop_db, "paid")
    request = signed({**_shipped(order.id), "data": {"carrier": "SF", "tracking_no": "SF7788990011",
                                                     "reason": "r" * 200, "description_zh": "包" * 250,
                                                     "description_en": "p" * 250}})
    body = request.pop("content")

    def pieces():
        for start in range(0, len(body), 97):
            yield body[start:start + 97]

    response = shop_client.post("/shop/events", content=pieces(), **request)
    assert response.status_code == 202, response.text
    assert len(notify_store.notifications(order.id)) == 1

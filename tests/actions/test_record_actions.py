"""The service record in the conversation (actions/record.py) against the
seeded shop: a linked WeChat/Telegram shopper sees it at once, anyone else
proves an order first, a stranger is refused; on the web widget the action
opens the panel instead of writing the record into the chat."""
from __future__ import annotations

import asyncio

from rasa_sdk.executor import CollectingDispatcher

from actions import record
from tests.actions.test_actions import (  # noqa: F401  (the autouse fixture points the actions at the test shop)
    DOMAIN,
    RETURNABLE,
    actions_use_the_test_shop,
    proof,
    responses,
    run,
    tracker,
)


def _required(t) -> list:
    form = record.ValidateRecordForm()
    return asyncio.run(form.required_slots(["order_id", "phone_last4"], CollectingDispatcher(), t, DOMAIN))


def test_a_linked_telegram_shopper_sees_the_record_at_once(shop):
    returned = shop.create_aftersale(RETURNABLE, "return", "坏了")
    t = tracker(sender="telegram:10001", channel="telegram", intent="show_record", text="服务记录")
    assert _required(t) == []
    messages, events = run(record.ActionShowRecord(), t)
    [shown] = messages
    assert shown["text"].startswith("您的服务记录") and returned in shown["text"] and "【售后申请】" in shown["text"]
    assert "2611010000000007" not in shown["text"]  # the other customer's order


def test_a_stranger_proves_an_order_first_and_is_refused_without(shop):
    stranger = tracker(sender="rest:10001", intent="show_record", text="my record")  # named like the demo's id
    assert _required(stranger) == ["order_id", "phone_last4"]
    messages, _ = run(record.ActionShowRecord(), stranger)
    assert responses(messages) == ["utter_verification_failed"]
    assert not messages[0].get("text")


def test_a_proven_mail_shopper_reads_the_record_in_english(shop):
    t = tracker({**proof(RETURNABLE), "language": "en", "order_id": RETURNABLE}, "my record",
                sender="mail:" + "d" * 32, channel="email", intent="show_record")
    assert _required(t) == []
    [shown], _ = run(record.ActionShowRecord(), t)
    assert shown["text"].startswith("Your service record")


def test_an_expired_proof_is_asked_again(shop):
    t = tracker({**proof(RETURNABLE, age_seconds=3 * 3600), "order_id": RETURNABLE}, "服务记录",
                sender="web:" + "e" * 43, channel="webchat", intent="show_record")
    assert _required(t) == ["order_id", "phone_last4"]  # filled, the order is kept; its proof is asked again


def test_the_widget_opens_its_panel(shop):
    t = tracker(proof(RETURNABLE), "服务记录", sender="web:" + "f" * 43, channel="webchat", intent="show_record")
    [opened], _ = run(record.ActionShowRecord(), t)
    assert opened["response"] == "utter_record_opened" and opened["custom"] == record.OPEN_PANEL
    assert not opened.get("text")

"""Attack 1: channel identity taken from the request body, and REST senders
landing in other channels' conversations. Attack 6: the desk attaching a
customer to an untrusted id. Only a platform-vouched identity (Telegram
with the webhook secret, signed WeChat) stands for 张三."""
from __future__ import annotations

import pytest

from tests.conftest import rasa_api
from tests.security.conftest import (
    OTHER_CUSTOMER,
    PAID,
    SHIPPED,
    ZHANGSAN_OPENID,
    ZHANGSAN_TELEGRAM,
    desk_agent,
    hand_back,
    handoff_of,
    unique,
)

pytestmark = pytest.mark.e2e


def test_the_real_telegram_account_is_recognised(outsider):
    """The control: from Telegram itself, 张三's id lists his orders without
    digits, so the refusals below are refusals, not a broken feature."""
    listed = outsider.telegram(ZHANGSAN_TELEGRAM, "我的订单")
    assert SHIPPED in listed or PAID in listed
    assert OTHER_CUSTOMER not in listed


@pytest.mark.parametrize("claimed", ["telegram", "wechat", "email", "webchat"])
def test_a_rest_body_claiming_another_channel_is_a_stranger(outsider, claimed):
    sender = str(ZHANGSAN_TELEGRAM) if claimed == "telegram" else ZHANGSAN_OPENID
    ticket = outsider.say(sender, "工单TK00000001进度", input_channel=claimed)
    assert "没有查到" in ticket
    listed = outsider.say(sender, "我的订单", input_channel=claimed)
    assert SHIPPED not in listed and PAID not in listed
    outsider.say(sender, "/restart")  # leave the order form it asked for
    asked = outsider.say(sender, f"取消订单{PAID}", input_channel=claimed)
    assert "后4位" in asked  # the cancel form still wants the digits
    outsider.say(sender, "/restart")


def test_a_rest_sender_cannot_name_another_channels_conversation(outsider):
    for sender in (f"telegram:{ZHANGSAN_TELEGRAM}", f"wechat:{ZHANGSAN_OPENID}", "web:abc", "telegram"):
        response = outsider.rest(sender, "我的订单")
        if sender == "telegram":  # a plain name is allowed: it is rest:telegram
            assert response.status_code == 200
            assert SHIPPED not in str(response.json())
        else:
            assert response.status_code == 400 and response.json()["error"] == "bad_sender"
    # and a REST sender named like the Telegram id lands in rest:10001, not in 张三's conversation
    before = rasa_api().get(f"{outsider.base}/conversations/telegram:{ZHANGSAN_TELEGRAM}/tracker", timeout=10).json()
    outsider.say(str(ZHANGSAN_TELEGRAM), "这是REST发来的消息")
    after = rasa_api().get(f"{outsider.base}/conversations/telegram:{ZHANGSAN_TELEGRAM}/tracker", timeout=10).json()
    texts = [e.get("text") for e in after["events"] if e.get("event") == "user"]
    assert "这是REST发来的消息" not in texts and len(after["events"]) == len(before["events"])
    rest_side = rasa_api().get(f"{outsider.base}/conversations/rest:{ZHANGSAN_TELEGRAM}/tracker", timeout=10).json()
    assert "这是REST发来的消息" in [e.get("text") for e in rest_side["events"] if e.get("event") == "user"]


def test_the_desk_shows_a_customer_only_for_a_vouched_identity(outsider):
    agent = desk_agent(outsider)
    # a REST sender named after 张三's Telegram id and openid asks for a human: nobody known
    for name in (str(ZHANGSAN_TELEGRAM), ZHANGSAN_OPENID, unique("demo-web-user")):
        assert "人工" in outsider.say(name, "转人工")
        detail = handoff_of(agent, outsider, f"rest:{name}")
        assert detail["customer"]["customer_id"] is None and detail["customer"]["orders"] == []
        assert detail["customer"]["tickets"] == []
    # the control: 张三 from Telegram is known, his orders shown without the digits that prove them
    outsider.telegram(ZHANGSAN_TELEGRAM, "转人工")
    detail = handoff_of(agent, outsider, f"telegram:{ZHANGSAN_TELEGRAM}")
    assert detail["customer"]["customer_id"] is not None and detail["customer"]["orders"]
    phones = [o["phone"] for o in detail["customer"]["orders"]]
    assert all(p.startswith("138") and "5678" not in p for p in phones)
    hand_back(agent, outsider, detail["handoff"]["id"])  # 张三's Telegram chat is the bot's again

"""Attack 5: WeChat requests could be replayed: the timestamp was never
checked, nonces were not remembered, one captured signed URL carried any
body from any FromUserName, and with an AES key a plaintext request was
still accepted. Against the running Kefu (plaintext mode) and a connector
in safe mode, over HTTP with WeChat's real signatures and wechatpy's own
crypto."""
from __future__ import annotations

import time
import uuid

import pytest
from sanic import Sanic

from channels.wechat import WeChatInput
from kefu.state.sql import SqlChannelState
from kefu.store.db import make_engine, migrate
from tests.conftest import serve_blueprint
from tests.security.conftest import SHIPPED, WECHAT_APP_ID, WECHAT_SECRET, WECHAT_TOKEN, ZHANGSAN_OPENID
from tests.support.fake_wechat import WeChatServer

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def _openid() -> str:
    return f"oSec{uuid.uuid4().hex[:20]}"


def _reply_text(outsider, wx: WeChatServer, openid: str, response) -> str:
    """What reached the shopper: the passive reply, or pushed messages."""
    if response.text not in ("success", ""):
        return wx.read_reply(response.text)["Content"]
    return "\n".join(m.get("text", {}).get("content", "") for m in outsider.wechat_api.wait_for(openid, 1, timeout=30))


@pytest.mark.e2e
def test_a_captured_url_carries_no_other_body(outsider):
    wx, victim, attacker = outsider.wechat(), _openid(), _openid()
    query, body = wx.post(wx.text(victim, "你好", msg_id=wx.next_msg_id()))
    first = outsider.wechat_post(query, body)
    assert first.status_code == 200 and _reply_text(outsider, wx, victim, first)
    for forged in (wx.text(attacker, "我的订单", msg_id=wx.next_msg_id()),
                   wx.text(ZHANGSAN_OPENID, "我的订单", msg_id=wx.next_msg_id()),  # posing as a linked customer
                   wx.text(victim, f"取消订单{SHIPPED}", msg_id=wx.next_msg_id())):
        replay = outsider.wechat_post(query, forged.encode("utf-8"))
        assert replay.status_code == 403
    time.sleep(0.5)
    assert outsider.wechat_api.messages_to(ZHANGSAN_OPENID) == [] and outsider.wechat_api.messages_to(attacker) == []
    # WeChat's own retry of the first message (the same request) is dropped as a resend, not refused
    assert outsider.wechat_post(query, body).text == "success"


@pytest.mark.e2e
def test_old_and_future_timestamps_are_refused(outsider):
    wx, openid = outsider.wechat(), _openid()
    for skew in (-3600, -302, 302, 86400):  # the window is 300 s; a second of rounding either way
        query, body = wx.post(wx.text(openid, "你好", msg_id=wx.next_msg_id()), timestamp=int(time.time()) + skew)
        assert outsider.wechat_post(query, body).status_code == 403
    query, body = wx.post(wx.text(openid, "你好", msg_id=wx.next_msg_id()), timestamp=int(time.time()) - 60)
    assert outsider.wechat_post(query, body).status_code == 200  # the control: a minute of clock skew is fine


@pytest.mark.e2e
def test_a_linked_openid_in_a_validly_signed_request_is_the_customer(outsider):
    """The control: the signature is what vouches for an openid."""
    wx = outsider.wechat()
    response = outsider.wechat_post(*wx.post(wx.text(ZHANGSAN_OPENID, "我的订单", msg_id=wx.next_msg_id())))
    assert response.status_code == 200
    listed = _reply_text(outsider, wx, ZHANGSAN_OPENID, response)
    assert SHIPPED in listed or "2611010000000002" in listed


@pytest.mark.asyncio
async def test_in_safe_mode_only_encrypted_messages_are_accepted(tmp_path, monkeypatch):
    import aiohttp

    monkeypatch.setattr(Sanic, "test_mode", True)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    channel = WeChatInput(WECHAT_TOKEN, WECHAT_APP_ID, WECHAT_SECRET, AES_KEY, api_base="http://127.0.0.1:9",
                          reply_deadline=0.5, state=SqlChannelState(make_engine(url)))
    received = []

    async def bot(message):
        received.append(message)
        await message.output_channel.send_text_message(message.sender_id, "收到")

    server, port = await serve_blueprint(channel.blueprint(bot), "/webhooks/wechat", "wechat_safe")
    await server.start_serving()
    wx, openid = WeChatServer(WECHAT_TOKEN, WECHAT_APP_ID, AES_KEY), _openid()
    hook = f"http://127.0.0.1:{port}/webhooks/wechat/webhook"
    try:
        async with aiohttp.ClientSession() as http:
            query, body = wx.post(wx.text(openid, "明文", msg_id=wx.next_msg_id()))  # signed, not encrypted
            async with http.post(hook + query, data=body) as reply:
                assert reply.status == 403
            query, body = wx.post(wx.text(openid, "密文", msg_id=wx.next_msg_id()), encrypted=True)
            async with http.post(hook + query, data=body) as reply:
                assert reply.status == 200 and wx.read_reply(await reply.text(), encrypted=True)["Content"] == "收到"
            async with http.post(hook + query, data=body) as reply:  # replayed: dropped, not run twice
                assert reply.status == 200
        assert [m.text for m in received] == ["密文"] and received[0].sender_id == f"wechat:{openid}"
    finally:
        server.close()
        await server.wait_closed()

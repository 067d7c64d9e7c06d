"""The WeChat official account connector: wire format, the webhook against
a fake WeChat (real signatures, real AES with wechatpy's crypto, the real
token and custom-send API shapes) and a whole conversation through Kefu's
servers."""
from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

import aiohttp
import pytest
import pytest_asyncio
import requests
from PIL import ExifTags, Image
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from wechatpy.utils import check_signature

import channels.wechat as wechat_channel
from channels.delivery import PermanentSendError
from channels.wechat import (
    EMPTY_TEXT,
    TOO_LONG,
    UNSUPPORTED,
    VOICE_NOT_UNDERSTOOD,
    MalformedMessage,
    WeChatClient,
    WeChatInput,
    WeChatOutput,
    inbound_from,
    menu_id,
    message_key,
    parse_incoming,
    passive_text,
    render_buttons,
    render_image,
    render_passive_text,
    render_text,
    signature_ok,
)
from kefu.core.config import EvidenceOptions
from kefu.core.ids import recipient_key
from kefu.evidence.intake import PHOTO_TEXT, Intake, Refused, build, refusal
from kefu.state import use_channel_state
from kefu.state.sql import SqlChannelState
from kefu.store.db import make_engine, migrate
from kefu.store.evidence import EvidenceStore
from tests.conftest import rasa_api, serve_blueprint, start_kefu
from tests.support.fake_wechat import FakeWeChatAPI, WeChatServer

TOKEN = "kefu-wechat-token"
APP_ID = "wx1234567890abcdef"
SECRET = "s3cr3t-app-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OPENID = "oKefuTestOpenid000000000001"
CJK = re.compile(r"[\u4e00-\u9fff]")


# --------------------------------------------------------------------------
# wire format
# --------------------------------------------------------------------------


def test_signature_is_sha1_of_sorted_token_timestamp_nonce():
    sig = WeChatServer(TOKEN, APP_ID).sign("1700000000", "n0nce")
    check_signature(TOKEN, sig, "1700000000", "n0nce")  # wechatpy agrees (raises otherwise)
    assert signature_ok(TOKEN, sig, "1700000000", "n0nce")
    assert not signature_ok("other-token", sig, "1700000000", "n0nce")
    assert not signature_ok(TOKEN, sig, "1700000001", "n0nce")
    assert not signature_ok(TOKEN, "", "1700000000", "n0nce")


@pytest.mark.parametrize("body", [b"", b"not xml", b"<xml><Content>hi</Content>", b"<xml><Content>hi</Content></xml>",
                                  b"<xml></xml>", b"<a><MsgType>text</MsgType></a>"])
def test_parse_rejects_what_is_not_a_wechat_message(body):
    with pytest.raises(MalformedMessage):
        parse_incoming(body)


def test_messages_map_to_what_the_bot_sees():
    wx = WeChatServer(TOKEN, APP_ID)
    text = inbound_from(parse_incoming(wx.text(OPENID, " 订单到哪了 ", msg_id=42)))
    assert text.text == "订单到哪了" and text.metadata["msg_id"] == "42" and text.metadata["msg_type"] == "text"
    assert inbound_from(parse_incoming(wx.voice(OPENID, "我要退货"))).text == "我要退货"
    no_recognition = inbound_from(parse_incoming(wx.voice(OPENID)))
    assert no_recognition.text is None and no_recognition.answer == VOICE_NOT_UNDERSTOOD
    image = inbound_from(parse_incoming(wx.image(OPENID, "http://mmbiz.qpic.cn/x.jpg", media_id="M1")))
    assert image.text is None and image.media_id == "M1" and image.metadata["msg_type"] == "image"
    assert "qpic" not in repr(image) and "M1" not in repr(image.metadata)  # no URL from outside, no media id
    assert inbound_from(parse_incoming(wx.event(OPENID, "subscribe"))).text == "/greet"
    assert inbound_from(parse_incoming(wx.event(OPENID, "subscribe", "qrscene_42"))).text == "/greet"
    assert inbound_from(parse_incoming(wx.event(OPENID, "CLICK", "/request_human"))).text == "/request_human"
    assert inbound_from(parse_incoming(wx.event(OPENID, "CLICK", "运费多少"))).text == "运费多少"
    unsubscribe = inbound_from(parse_incoming(wx.event(OPENID, "unsubscribe")))
    assert unsubscribe.text is None and unsubscribe.answer is None
    click = inbound_from(parse_incoming(wx.menu_click(OPENID, "5分", "k123")))
    assert click.text == "5分" and click.menu_id == "k123"
    assert inbound_from(parse_incoming(wx.text(OPENID, "   "))).answer == EMPTY_TEXT
    assert inbound_from(parse_incoming(wx.text(OPENID, "长" * 2500))).answer == TOO_LONG
    location = wx.xml(OPENID, "location", {"Location_X": "23.1", "Location_Y": "113.3", "Scale": 20, "Label": "x"})
    assert inbound_from(parse_incoming(location)).answer == UNSUPPORTED


def test_resends_share_a_key_and_events_are_keyed_by_sender_and_time():
    wx = WeChatServer(TOKEN, APP_ID)
    assert message_key(parse_incoming(wx.text(OPENID, "a", msg_id=7))) == message_key(
        parse_incoming(wx.text(OPENID, "a", msg_id=7)))
    assert message_key(parse_incoming(wx.text(OPENID, "a", msg_id=7))) != message_key(
        parse_incoming(wx.text(OPENID, "a", msg_id=8)))
    first = message_key(parse_incoming(wx.event(OPENID, "subscribe", create_time=1700000000)))
    assert first == message_key(parse_incoming(wx.event(OPENID, "subscribe", create_time=1700000000)))
    assert first != message_key(parse_incoming(wx.event(OPENID, "subscribe", create_time=1700000001)))
    assert first != message_key(parse_incoming(wx.event("oOther", "subscribe", create_time=1700000000)))
    assert OPENID not in first  # no openid in clear in the claims table


def test_replies_render_as_custom_messages():
    assert render_text(OPENID, "你好") == {"touser": OPENID, "msgtype": "text", "text": {"content": "你好"}}
    news = render_image(OPENID, "https://shop.example/p.jpg")
    assert news["msgtype"] == "news" and news["news"]["articles"][0]["picurl"] == "https://shop.example/p.jpg"
    menu = render_buttons(OPENID, "满意吗？", [{"title": "5分", "payload": '/inform{"rating": "5"}'},
                                              {"title": "转人工", "payload": "/request_human"},
                                              {"title": "帮助", "url": "https://shop.example/help"}])
    assert menu["msgtype"] == "msgmenu"
    assert menu["msgmenu"]["list"] == [{"id": menu_id('/inform{"rating": "5"}'), "content": "5分"},
                                       {"id": menu_id("/request_human"), "content": "转人工"}]
    assert menu["msgmenu"]["head_content"] == '满意吗？\n<a href="https://shop.example/help">帮助</a>'
    assert menu_id("/request_human") != menu_id("/deny") and len(menu_id("/x" * 200)) < 32
    assert render_buttons(OPENID, "看这里", [{"title": "帮助", "url": "https://x"}])["msgtype"] == "text"


def test_only_a_single_text_is_answered_passively():
    assert passive_text([render_text(OPENID, "a")]) == "a"
    assert passive_text([render_text(OPENID, "a"), render_text(OPENID, "b")]) is None
    assert passive_text([render_buttons(OPENID, "a", [{"title": "t", "payload": "/p"}])]) is None
    assert passive_text([]) is None
    xml = render_passive_text("gh_1", OPENID, "你好 <b>&", now=1700000000)
    reply = WeChatServer(TOKEN, APP_ID).read_reply(xml)
    assert reply == {"ToUserName": OPENID, "FromUserName": "gh_1", "CreateTime": "1700000000",
                     "MsgType": "text", "Content": "你好 <b>&"}


def test_credentials_are_checked():
    with pytest.raises(ValueError, match="app_secret"):
        WeChatInput.from_credentials({"token": "t", "app_id": "wx1"})
    with pytest.raises(ValueError, match="43"):
        WeChatInput.from_credentials({"token": "t", "app_id": "wx1", "app_secret": "s", "encoding_aes_key": "short"})
    channel = WeChatInput.from_credentials({"token": "t", "app_id": "wx1", "app_secret": "s"})
    assert channel.client.api_base == "https://api.weixin.qq.com" and channel.crypto is None


# --------------------------------------------------------------------------
# the webhook against a fake WeChat
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api():
    fake = FakeWeChatAPI(APP_ID, SECRET).start()
    yield fake
    fake.stop()


@pytest.fixture
def state(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    state = SqlChannelState(make_engine(url))
    use_channel_state(state)
    yield state
    use_channel_state(None)


class Bot:
    """A stand-in for Rasa's on_new_message: records what it gets and answers
    through the message's output channel."""

    def __init__(self) -> None:
        self.received: List[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        out, sender, text = message.output_channel, message.sender_id, message.text
        if text == "slow":
            await asyncio.sleep(0.8)
            await out.send_text_message(sender, "slow answer")
        elif text == "two":
            await out.send_text_message(sender, "first")
            await out.send_text_message(sender, "second")
        elif text == "rate":
            await out.send_text_with_buttons(sender, "满意吗？", [{"title": "5分", "payload": '/inform{"rating": "5"}'},
                                                                 {"title": "转人工", "payload": "/request_human"}])
        elif text == "boom":
            raise RuntimeError("bot failure")
        elif text == "/greet":
            await out.send_text_message(sender, "欢迎关注！")
        else:
            await out.send_text_message(sender, f"echo:{text}")


class Webhook:
    """The connector's blueprint served by sanic on a free port."""

    def __init__(self, channel: WeChatInput, bot: Bot, server: Any, base: str) -> None:
        self.channel, self.bot, self.server, self.base = channel, bot, server, base
        self.url = f"{base}/webhooks/wechat/webhook"

    async def post(self, query: str, body: bytes) -> tuple:
        async with aiohttp.ClientSession() as session:
            started = time.monotonic()
            async with session.post(self.url + query, data=body) as reply:
                return reply.status, await reply.text(), time.monotonic() - started


@pytest_asyncio.fixture
async def webhook(api, state, monkeypatch):
    # sanic 21.12 rewrites its own methods on every app startup and fails on
    # the second app in a process unless in test mode (keeps the originals)
    monkeypatch.setattr(Sanic, "test_mode", True)
    webhooks = []

    async def make(encoding_aes_key: Optional[str] = None, deadline: float = 0.4) -> Webhook:
        channel = WeChatInput(TOKEN, APP_ID, SECRET, encoding_aes_key, api_base=api.url, reply_deadline=deadline,
                              state=state)
        bot = Bot()
        server, port = await serve_blueprint(channel.blueprint(bot), "/webhooks/wechat", "wechat_test")
        await server.start_serving()
        hook = Webhook(channel, bot, server, f"http://127.0.0.1:{port}")
        webhooks.append(hook)
        return hook

    yield make
    for hook in webhooks:
        await asyncio.gather(*list(hook.channel._tasks), return_exceptions=True)
        hook.server.close()
        await hook.server.wait_closed()


def new_openid() -> str:
    return f"oTest{uuid.uuid4().hex[:20]}"


def photo_intake(tmp_path, **options: Any) -> Intake:
    """An intake keeping photos under tmp_path, recording them in the
    test's database (the one ``state`` uses)."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    return build(EvidenceOptions(directory=tmp_path / "evidence", **options), url)


@pytest.fixture
def evidence(tmp_path, state, monkeypatch) -> Intake:
    """The connector keeps photos in this test's directory and database,
    never in the process's cached intake."""
    taken = photo_intake(tmp_path)
    monkeypatch.setattr(wechat_channel, "intake", lambda: taken)
    return taken


def jpeg(size=(64, 48), noise: bool = False, camera: str = "SecretCam") -> bytes:
    """A JPEG as a phone sends it: its camera (EXIF 0x010F) and where it was
    taken (GPS) in EXIF."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)) if noise \
        else Image.new("RGB", size, (200, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = camera
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 14.0, 5.5)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=95)
    return out.getvalue()


def rows_of(intake: Intake, openid: str):
    return EvidenceStore(intake.store.engine).of_conversation(f"wechat:{openid}")


@pytest.mark.asyncio
async def test_url_verification_echoes_only_a_signed_request(webhook):
    hook = await webhook()
    wx = WeChatServer(TOKEN, APP_ID)
    async with aiohttp.ClientSession() as session:
        async with session.get(hook.url + wx.verification("echo-123")) as reply:
            assert reply.status == 200 and await reply.text() == "echo-123"
        forged = WeChatServer("wrong-token", APP_ID).verification("echo-123")
        async with session.get(hook.url + forged) as reply:
            assert reply.status == 403 and "echo-123" not in await reply.text()


@pytest.mark.asyncio
async def test_bad_signatures_and_malformed_xml_never_reach_a_conversation(webhook, api):
    hook = await webhook(AES_KEY)
    wx = WeChatServer(TOKEN, APP_ID, AES_KEY)
    xml = wx.text(OPENID, "你好")
    assert (await hook.post(*wx.post(xml, bad_signature=True)))[0] == 403
    assert (await hook.post(*wx.post(xml, encrypted=True, bad_msg_signature=True)))[0] == 403
    assert (await hook.post(*WeChatServer("other", APP_ID).post(xml)))[0] == 403
    plain = await webhook()
    query, _ = wx.post(xml)
    assert (await plain.post(query, b"<xml><ToUserName>gh</ToUserName><Content>"))[0] == 400
    assert (await plain.post(query, b""))[0] == 400
    assert (await plain.post(*wx.post(wx.text("o bad <id>", "hi"))))[0] == 400  # not an openid
    query, _ = wx.post(xml, encrypted=True)
    assert (await hook.post(query, b"<xml><Encrypt><![CDATA[bm90LWFlcw==]]></Encrypt></xml>"))[0] in (400, 403)
    assert (await hook.post(query, b"<xml><Encrypt>"))[0] == 400
    assert (await hook.post(wx.post(xml)[0], b"<xml>" + b"x" * 70000 + b"</xml>"))[0] == 413
    assert hook.bot.received == [] and plain.bot.received == []


@pytest.mark.asyncio
async def test_stale_and_replayed_requests_are_refused(webhook, api):
    """A signature proves little in plaintext mode: it does not cover the
    body. A captured URL must not carry a second body, from any
    FromUserName, and an old one must not work at all."""
    hook = await webhook()
    wx = WeChatServer(TOKEN, APP_ID)
    victim, attacker = new_openid(), new_openid()
    stale = wx.post(wx.text(victim, "订单", msg_id=wx.next_msg_id()), timestamp=int(time.time()) - 600)
    assert (await hook.post(*stale))[0] == 403
    early = wx.post(wx.text(victim, "订单", msg_id=wx.next_msg_id()), timestamp=int(time.time()) + 600)
    assert (await hook.post(*early))[0] == 403
    query, body = wx.post(wx.text(victim, "查订单", msg_id=wx.next_msg_id()))
    assert (await hook.post(query, body))[0] == 200
    forged = wx.text(attacker, "我的订单", msg_id=wx.next_msg_id())  # the same signed URL, another body
    assert (await hook.post(query, forged.encode("utf-8")))[0] == 403
    forged_victim = wx.text(victim, "取消订单", msg_id=wx.next_msg_id())
    assert (await hook.post(query, forged_victim.encode("utf-8")))[0] == 403
    # WeChat's own retry of the first message (same URL, same MsgId) is not a replay: dropped as a resend
    assert (await hook.post(query, body))[:2] == (200, "success")
    assert [(m.sender_id, m.text) for m in hook.bot.received] == [(f"wechat:{victim}", "查订单")]


@pytest.mark.asyncio
async def test_safe_mode_accepts_encrypted_messages_only(webhook, api):
    hook = await webhook(AES_KEY)
    wx, openid = WeChatServer(TOKEN, APP_ID, AES_KEY), new_openid()
    # validly signed, not encrypted
    status, _, _ = await hook.post(*wx.post(wx.text(openid, "明文消息"), openid=openid))
    assert status == 403 and hook.bot.received == []
    status, body, _ = await hook.post(*wx.post(wx.text(openid, "密文消息"), encrypted=True, openid=openid))
    assert status == 200 and [m.text for m in hook.bot.received] == ["密文消息"]


@pytest.mark.asyncio
async def test_it_sends_only_to_wechat_conversations(api, state):
    output = WeChatOutput(WeChatClient(APP_ID, SECRET, api.url, state))
    victim = new_openid()
    for recipient in (f"rest:{victim}", f"web:{victim}", victim, f"telegram:{victim}"):
        await output.send_text_message(recipient, "钓鱼链接")
        await output.send_text_with_buttons(recipient, "点这里", [{"title": "领奖", "payload": "/affirm"}])
        await output.send_custom_json(recipient, {"msgtype": "text", "text": {"content": "x"}})
    assert api.messages_to(victim) == []


@pytest.mark.asyncio
async def test_a_ready_text_reply_is_answered_passively(webhook, api):
    hook = await webhook()
    wx, openid = WeChatServer(TOKEN, APP_ID), new_openid()
    status, body, _ = await hook.post(*wx.post(wx.text(openid, "你好", msg_id=1001), openid=openid))
    assert status == 200
    reply = wx.read_reply(body)
    assert reply["Content"] == "echo:你好" and reply["ToUserName"] == openid and reply["FromUserName"] == wx.account
    [message] = hook.bot.received
    assert message.sender_id == f"wechat:{openid}" and message.input_channel == "wechat"
    assert message.metadata["wechat"]["msg_id"] == "1001"
    assert api.messages_to(openid) == []


@pytest.mark.asyncio
async def test_safe_mode_decrypts_and_encrypts_the_passive_reply(webhook, api):
    hook = await webhook(AES_KEY)
    wx, openid = WeChatServer(TOKEN, APP_ID, AES_KEY), new_openid()
    status, body, _ = await hook.post(*wx.post(wx.text(openid, "查订单"), encrypted=True, openid=openid))
    assert status == 200 and "echo" not in body  # encrypted on the wire
    assert wx.read_reply(body, encrypted=True)["Content"] == "echo:查订单"
    assert [m.text for m in hook.bot.received] == ["查订单"]


@pytest.mark.asyncio
async def test_a_resent_message_is_processed_once(webhook, api, state):
    hook = await webhook(AES_KEY)
    wx, openid = WeChatServer(TOKEN, APP_ID, AES_KEY), new_openid()
    xml = wx.text(openid, "在吗", msg_id=wx.next_msg_id())
    first = await hook.post(*wx.post(xml, encrypted=True))
    again = await hook.post(*wx.post(xml, encrypted=True))  # WeChat's retry: same MsgId, new signature
    assert wx.read_reply(first[1], encrypted=True)["Content"] == "echo:在吗"
    assert again[:2] == (200, "success")
    # a second process sharing the state drops it too
    other = await webhook(AES_KEY)
    assert (await other.post(*wx.post(xml, encrypted=True)))[:2] == (200, "success")
    event = wx.event(openid, "subscribe", create_time=1700000000)
    await hook.post(*wx.post(event, encrypted=True))
    await hook.post(*wx.post(event, encrypted=True))
    assert [m.text for m in hook.bot.received] == ["在吗", "/greet"] and other.bot.received == []


@pytest.mark.asyncio
async def test_subscribe_gets_the_welcome_message(webhook, api):
    hook = await webhook()
    wx, openid = WeChatServer(TOKEN, APP_ID), new_openid()
    _, body, _ = await hook.post(*wx.post(wx.event(openid, "subscribe")))
    assert wx.read_reply(body)["Content"] == "欢迎关注！"
    [message] = hook.bot.received
    assert message.text == "/greet" and message.metadata["wechat"]["event"] == "subscribe"
    _, body, _ = await hook.post(*wx.post(wx.event(openid, "unsubscribe")))
    assert body == "success" and len(hook.bot.received) == 1


@pytest.mark.asyncio
async def test_a_slow_answer_is_acknowledged_in_time_and_sent_later(webhook, api):
    hook = await webhook(deadline=0.3)
    wx, openid = WeChatServer(TOKEN, APP_ID), new_openid()
    status, body, elapsed = await hook.post(*wx.post(wx.text(openid, "slow")))
    assert (status, body) == (200, "success") and elapsed < 0.75
    sent = await api.await_for(openid, 1)
    assert sent == [{"touser": openid, "msgtype": "text", "text": {"content": "slow answer"}}]


@pytest.mark.asyncio
async def test_several_replies_go_through_the_custom_api_in_order(webhook, api, state):
    hook = await webhook()
    wx, openid = WeChatServer(TOKEN, APP_ID), new_openid()
    assert (await hook.post(*wx.post(wx.text(openid, "two"))))[1] == "success"
    sent = await api.await_for(openid, 2)
    assert [m["text"]["content"] for m in sent] == ["first", "second"]
    mine = [d for d in state.deliveries("wechat") if d.recipient_key == recipient_key(f"wechat:{openid}")]
    assert [d.status for d in mine] == ["sent", "sent"]


@pytest.mark.asyncio
async def test_a_menu_click_sends_the_button_payload(webhook, api):
    hook = await webhook(AES_KEY)
    wx, openid = WeChatServer(TOKEN, APP_ID, AES_KEY), new_openid()
    assert (await hook.post(*wx.post(wx.text(openid, "rate"), encrypted=True)))[1] == "success"
    [menu] = await api.await_for(openid, 1)
    assert menu["msgtype"] == "msgmenu" and menu["msgmenu"]["head_content"] == "满意吗？"
    five = next(item for item in menu["msgmenu"]["list"] if item["content"] == "5分")
    # the shopper taps "5分": WeChat sends a text whose bizmsgmenuid is the item id
    await hook.post(*wx.post(wx.menu_click(openid, "5分", five["id"]), encrypted=True))
    assert hook.bot.received[-1].text == '/inform{"rating": "5"}'
    # an id we never issued falls back to the text shown on the button
    await hook.post(*wx.post(wx.menu_click(openid, "好评", "k-unknown"), encrypted=True))
    assert hook.bot.received[-1].text == "好评"


@pytest.mark.asyncio
async def test_voice_uses_recognition_or_gets_a_polite_answer(webhook):
    hook = await webhook()
    wx, openid = WeChatServer(TOKEN, APP_ID), new_openid()
    _, body, _ = await hook.post(*wx.post(wx.voice(openid, "我要退货")))
    assert wx.read_reply(body)["Content"] == "echo:我要退货"
    _, body, _ = await hook.post(*wx.post(wx.voice(openid)))
    assert wx.read_reply(body)["Content"] == VOICE_NOT_UNDERSTOOD
    assert [m.text for m in hook.bot.received] == ["我要退货"]


@pytest.mark.asyncio
async def test_a_failing_bot_still_answers(webhook):
    hook = await webhook()
    wx, openid = WeChatServer(TOKEN, APP_ID), new_openid()
    status, body, _ = await hook.post(*wx.post(wx.text(openid, "boom")))
    assert status == 200 and "抱歉" in wx.read_reply(body)["Content"]


@pytest.mark.asyncio
async def test_an_image_becomes_evidence_without_its_exif(webhook, api, evidence, tmp_path):
    hook = await webhook(AES_KEY, deadline=3.0)
    wx, openid = WeChatServer(TOKEN, APP_ID, AES_KEY), new_openid()
    photo = jpeg((640, 480))
    assert b"SecretCam" in photo
    media_id = api.add_media(photo)
    xml = wx.image(openid, "http://mmbiz.qpic.cn/mmbiz_jpg/evil", media_id=media_id, msg_id=wx.next_msg_id())
    status, body, _ = await hook.post(*wx.post(xml, encrypted=True, openid=openid))
    assert status == 200 and wx.read_reply(body, encrypted=True)["Content"] == f"echo:{PHOTO_TEXT}"
    assert api.media_fetches.count(media_id) == 1
    (row,) = rows_of(evidence, openid)
    assert row.channel == "wechat" and row.content_type == "image/jpeg" and (row.width, row.height) == (640, 480)
    stored = (tmp_path / "evidence" / row.storage_key).read_bytes()
    assert b"SecretCam" not in stored
    with Image.open(io.BytesIO(stored)) as kept:
        assert 0x010F not in kept.getexif() and not kept.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    # Rasa hears only that a photo came, as the shopper's message: no URL, no media id
    [message] = hook.bot.received
    assert message.text == PHOTO_TEXT and message.sender_id == f"wechat:{openid}"
    assert message.input_channel == "wechat" and message.metadata["wechat"]["msg_type"] == "image"
    assert "qpic" not in repr(message.metadata) and media_id not in repr(message.metadata)
    # WeChat's retry of the same message is dropped: fetched and kept once
    assert (await hook.post(*wx.post(xml, encrypted=True, openid=openid)))[:2] == (200, "success")
    assert api.media_fetches.count(media_id) == 1 and len(hook.bot.received) == 1


@pytest.mark.asyncio
async def test_a_too_big_image_is_refused_politely(webhook, api, state, tmp_path, monkeypatch):
    small = photo_intake(tmp_path, max_bytes=20_000)
    monkeypatch.setattr(wechat_channel, "intake", lambda: small)
    hook = await webhook(deadline=3.0)
    wx, openid = WeChatServer(TOKEN, APP_ID), new_openid()
    big = jpeg((400, 300), noise=True)
    assert len(big) > small.max_bytes
    _, body, _ = await hook.post(*wx.post(wx.image(openid, "http://x/y.jpg", media_id=api.add_media(big))))
    answer = wx.read_reply(body)["Content"]
    assert answer == refusal("too_big", small.max_bytes) and "MB" in answer and CJK.search(answer)  # both languages
    assert hook.bot.received == [] and rows_of(small, openid) == []
    assert not (tmp_path / "evidence").exists() or not any((tmp_path / "evidence").rglob("*.*"))


@pytest.mark.asyncio
async def test_the_media_download_stops_past_the_limit(api, state):
    client = WeChatClient(APP_ID, SECRET, api.url, state)
    media_id = api.add_media(b"x" * 50_000)
    assert await client.media(media_id, 50_000) == b"x" * 50_000
    with pytest.raises(Refused) as refused:
        await client.media(media_id, 49_999)
    assert refused.value.reason == "too_big"
    api.revoke_tokens()  # an expired token is refreshed once, as for sending
    fetches = api.token_fetches
    assert len(await client.media(media_id, 50_000)) == 50_000 and api.token_fetches == fetches + 1


@pytest.mark.asyncio
async def test_a_file_that_is_no_image_is_refused(webhook, api, evidence):
    hook = await webhook(deadline=3.0)
    wx, openid = WeChatServer(TOKEN, APP_ID), new_openid()
    _, body, _ = await hook.post(*wx.post(wx.image(openid, "http://x/y.jpg",
                                                   media_id=api.add_media(b"not a picture"))))
    assert wx.read_reply(body)["Content"] == refusal("not_image", evidence.max_bytes)
    assert hook.bot.received == [] and rows_of(evidence, openid) == []


@pytest.mark.asyncio
async def test_an_unknown_media_id_is_answered_unavailable(webhook, api, evidence, caplog):
    caplog.set_level(logging.INFO)
    hook = await webhook(deadline=3.0)
    wx, openid = WeChatServer(TOKEN, APP_ID), new_openid()
    _, body, _ = await hook.post(*wx.post(wx.image(openid, "http://x/y.jpg", media_id="MEDIA_never_uploaded")))
    assert wx.read_reply(body)["Content"] == refusal("unavailable", evidence.max_bytes)
    assert api.media_fetches[-1] == "MEDIA_never_uploaded"
    assert hook.bot.received == [] and rows_of(evidence, openid) == []
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name == "channels.wechat")
    assert "could not be fetched" in ours and openid not in ours and "ACCESS_TOKEN" not in ours


@pytest.mark.asyncio
async def test_a_slow_photo_is_acknowledged_in_time_and_answered_later(webhook, api, evidence):
    hook = await webhook(deadline=0.001)
    wx, openid = WeChatServer(TOKEN, APP_ID), new_openid()
    status, body, _ = await hook.post(*wx.post(wx.image(openid, "http://x/y.jpg", media_id=api.add_media(jpeg()))))
    assert (status, body) == (200, "success")
    sent = await api.await_for(openid, 1)
    assert sent == [{"touser": openid, "msgtype": "text", "text": {"content": f"echo:{PHOTO_TEXT}"}}]
    assert [m.text for m in hook.bot.received] == [PHOTO_TEXT] and len(rows_of(evidence, openid)) == 1
    # a refusal that misses the deadline goes the same way
    await hook.post(*wx.post(wx.image(openid, "http://x/y.jpg", media_id="MEDIA_gone")))
    sent = await api.await_for(openid, 2)
    assert sent[1]["text"]["content"] == refusal("unavailable", evidence.max_bytes)


@pytest.mark.asyncio
async def test_the_access_token_is_cached_shared_and_refreshed(api, state):
    openid = new_openid()
    client = WeChatClient(APP_ID, SECRET, api.url, state)
    fetches = api.token_fetches
    await client.send(render_text(openid, "1"))
    await client.send(render_text(openid, "2"))
    await WeChatClient(APP_ID, SECRET, api.url, state).send(render_text(openid, "3"))  # another process
    assert api.token_fetches == fetches + 1
    # WeChat says the token expired (42001): refreshed once, message sent
    api.revoke_tokens()
    await client.send(render_text(openid, "4"))
    assert api.token_fetches == fetches + 2
    # refreshed before it expires: a token with 2 minutes left is not used
    state.put_token(client.token_name, "ALMOST_EXPIRED", datetime.now(timezone.utc) + timedelta(minutes=2))
    await client.send(render_text(openid, "5"))
    assert api.token_fetches == fetches + 3
    assert [m["text"]["content"] for m in api.messages_to(openid)] == ["1", "2", "3", "4", "5"]
    with pytest.raises(PermanentSendError):
        await WeChatClient("wx0000000000wrong0", SECRET, api.url, state).access_token()


@pytest.mark.asyncio
async def test_send_errors_are_retried_or_permanent(api, state):
    openid = new_openid()
    output = WeChatOutput(WeChatClient(APP_ID, SECRET, api.url, state))  # as Rasa's output_channel=latest gets it
    api.fail_next(-1)  # system busy: retried
    await output.send_text_message(f"wechat:{openid}", "人工客服：您好")
    api.fail_next(45015)  # outside the 48 h window: not retried
    attempts = api.send_attempts
    await output.send_text_message(f"wechat:{openid}", "too late")
    assert api.send_attempts == attempts + 1
    assert [m["text"]["content"] for m in api.messages_to(openid)] == ["人工客服：您好"]
    mine = [d for d in state.deliveries("wechat") if d.recipient_key == recipient_key(f"wechat:{openid}")]
    assert [(d.status, d.attempts) for d in mine] == [("sent", 2), ("failed", 1)]
    assert "45015" in mine[1].error


# --------------------------------------------------------------------------
# end to end through Kefu's servers
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kefu_wechat(shop_url, tmp_path_factory, api):
    credentials = (
        "rest:\n"
        "channels.wechat.WeChatInput:\n"
        f"  token: {TOKEN}\n  app_id: {APP_ID}\n  app_secret: {SECRET}\n"
        f"  encoding_aes_key: {AES_KEY}\n  api_base: {api.url}\n"
    )
    servers = start_kefu(tmp_path_factory.mktemp("wechat-servers"), shop_url, credentials, api=True)
    yield servers
    servers.stop()


class Shopper:
    """A WeChat user talking to Kefu in safe mode: what WeChat sends, and
    every reply that reaches the phone (passive or pushed)."""

    def __init__(self, servers: Any, api: FakeWeChatAPI, openid: str) -> None:
        self.url = f"{servers.rasa_url}/webhooks/wechat/webhook"
        self.wx, self.api, self.openid = WeChatServer(TOKEN, APP_ID, AES_KEY), api, openid

    def send(self, xml: str) -> List[Dict[str, Any]]:
        before = len(self.api.messages_to(self.openid))
        started = time.monotonic()
        query, body = self.wx.post(xml, encrypted=True, openid=self.openid)
        reply = requests.post(self.url + query, data=body, timeout=10)
        assert reply.status_code == 200 and time.monotonic() - started < 5  # inside WeChat's deadline
        passive = self.wx.read_reply(reply.text, encrypted=True)
        if passive:
            return [{"msgtype": "text", "text": {"content": passive["Content"]}}]
        seen, quiet_since, deadline = before, time.monotonic(), time.monotonic() + 30
        while time.monotonic() < deadline:
            now = len(self.api.messages_to(self.openid))
            if now != seen:
                seen, quiet_since = now, time.monotonic()
            elif now > before and time.monotonic() - quiet_since > 1.5:
                break
            time.sleep(0.1)
        return self.api.messages_to(self.openid)[before:]

    def say(self, text: str) -> List[Dict[str, Any]]:
        return self.send(self.wx.text(self.openid, text))

    @staticmethod
    def read(messages: List[Dict[str, Any]]) -> str:
        return "\n".join(m["text"]["content"] if m["msgtype"] == "text" else m["msgmenu"]["head_content"]
                         for m in messages)


@pytest.mark.e2e
def test_a_wechat_conversation_through_kefu(kefu_wechat, api):
    shopper = Shopper(kefu_wechat, api, new_openid())
    welcome = Shopper.read(shopper.send(shopper.wx.event(shopper.openid, "subscribe")))
    assert CJK.search(welcome) and "小客" in welcome
    assert "后4位" in Shopper.read(shopper.say("帮我查下订单2611010000000001"))
    reply = Shopper.read(shopper.say("5678"))
    assert "2611010000000001" in reply and "运输中" in reply
    assert "13800005678" not in reply


@pytest.mark.e2e
def test_a_wechat_menu_round_trip_through_kefu(kefu_wechat, api):
    shopper = Shopper(kefu_wechat, api, new_openid())
    menus = [m for m in shopper.say("今天天气怎么样，给我讲个笑话") if m["msgtype"] == "msgmenu"]
    assert menus, "an out-of-scope question is answered with buttons"
    human = next(i for i in menus[-1]["msgmenu"]["list"] if "人工" in i["content"])
    reply = Shopper.read(shopper.send(shopper.wx.menu_click(shopper.openid, human["content"], human["id"])))
    assert "人工" in reply
    # the conversation got the button's payload, not the text on the button
    tracker = rasa_api().get(f"{kefu_wechat.rasa_url}/conversations/wechat:{shopper.openid}/tracker",
                             timeout=10).json()
    users = [e for e in tracker["events"] if e["event"] == "user"]
    assert users[-1]["text"] == "/request_human" and users[-1]["input_channel"] == "wechat"

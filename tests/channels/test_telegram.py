"""Telegram connector: the wire-format functions, the connector against a
local fake Bot API (webhook and polling), and one conversation through the
real Kefu servers."""
from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import random
import re
import time
import uuid
from typing import Any, Dict, List, Optional

import httpx
import pytest
import pytest_asyncio
from PIL import ExifTags, Image
from rasa.core.channels.channel import UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Sanic

import channels.telegram as telegram_channel
from channels.telegram import (
    DEFAULT_FILE_BASE,
    GREET,
    FileRef,
    MalformedUpdate,
    TelegramInput,
    TelegramOutput,
    callback_data_for,
    callback_key,
    choose_file,
    command_text,
    file_base_for,
    parse_update,
    polite,
    render_keyboard,
    secret_ok,
    split_text,
)
from kefu.core.config import EvidenceOptions
from kefu.evidence.intake import PHOTO_TEXT, Intake, build, refusal
from kefu.state import channel_state, use_channel_state
from kefu.state.sql import SqlChannelState
from kefu.store.db import make_engine, migrate
from kefu.store.evidence import EvidenceStore
from tests.conftest import free_port, rasa_api, start_kefu
from tests.support.fake_telegram import FakeTelegram

SECRET = "s3cret-Token_for-tests"
CHAT = 424242
CJK = re.compile(r"[\u4e00-\u9fff]")
LONG_PAYLOAD = '/inform{"aftersale_reason": "' + "收到的商品有破损" * 4 + '"}'
BUTTONS = [
    {"title": "转人工客服", "payload": "/request_human"},
    {"title": "5 非常满意", "payload": '/inform{"rating": "5"}'},
    {"title": "原因", "payload": LONG_PAYLOAD},
]


@pytest.fixture
def state(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    use_channel_state(SqlChannelState(make_engine(url)))
    yield channel_state()
    use_channel_state(None)


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
    monkeypatch.setattr(telegram_channel, "intake", lambda: taken)
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


def rows_of(intake: Intake, chat: int):
    return EvidenceStore(intake.store.engine).of_conversation(f"telegram:{chat}")


@pytest.fixture
def tg():
    with FakeTelegram() as fake:
        yield fake


class Kefu:
    """A fake ``on_new_message``: records messages and answers through their
    output channel like Rasa would."""

    def __init__(self) -> None:
        self.messages: List[UserMessage] = []
        self.fail = False

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.fail:
            raise RuntimeError("dialogue broke")
        out = message.output_channel
        if message.text == "菜单":
            await out.send_text_with_buttons(message.sender_id, "请选择：", BUTTONS)
        else:
            await out.send_text_message(message.sender_id, f"收到：{message.text}")
            await out.send_image_url(message.sender_id, "https://shop.example/logo.png")

    @property
    def texts(self) -> List[str]:
        return [m.text for m in self.messages]


class Server:
    def __init__(self, channel: TelegramInput, kefu: Kefu, url: str) -> None:
        self.channel, self.kefu, self.url = channel, kefu, url

    async def post(self, body: Any, secret: Optional[str] = SECRET, raw: bool = False) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        content = body if raw else json.dumps(body).encode()
        async with httpx.AsyncClient() as client:
            return await client.post(f"{self.url}/webhooks/telegram/webhook", content=content, headers=headers)


async def start_server(channel: TelegramInput, kefu: Kefu, port: int):
    from rasa.core.channels.channel import register

    Sanic.test_mode = True  # several apps in one process (sanic's touch-up would run twice otherwise)
    app = Sanic(f"telegram_test_{uuid.uuid4().hex[:8]}")
    register([channel], app, route="/webhooks/")
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    await server.after_start()
    return app, server


async def stop_server(server) -> None:
    await server.before_stop()
    await server.close()
    await server.after_stop()


@pytest_asyncio.fixture
async def webhook(tg, state):
    """The connector in webhook mode on a real sanic server on a free port."""
    port = free_port()
    channel = TelegramInput(tg.token, webhook_secret=SECRET, mode="webhook", api_base=tg.api_base,
                            webhook_url=f"http://127.0.0.1:{port}/webhooks/telegram/webhook",
                            output=TelegramOutput(tg.token, tg.api_base, base_delay=0.01))
    kefu = Kefu()
    # Rasa's register() calls blueprint(on_new_message) with its own handler; ours is the fake
    channel_blueprint = channel.blueprint
    channel.blueprint = lambda on_new_message: channel_blueprint(kefu)  # type: ignore[method-assign]  # a test double
    _, server = await start_server(channel, kefu, port)
    yield Server(channel, kefu, f"http://127.0.0.1:{port}")
    await stop_server(server)


# ---------------------------------------------------------------- wire format


def test_commands_become_user_text():
    assert command_text("/start") == GREET
    assert command_text("/start@KefuTestBot") == GREET
    assert command_text("/start order_2611010000000001") == "order_2611010000000001"
    assert command_text("  你好 ") == "你好"
    # typed intent syntax goes through NLU, only buttons carry payloads
    assert command_text('/inform{"rating": "5"}') == 'inform{"rating": "5"}'
    assert command_text("/help me") == "help me"


def test_parse_update_kinds(tg):
    text = parse_update(tg.text_update(CHAT, "/start", language_code="en"))
    assert (text.kind, text.chat_id, text.text, text.language_code) == ("text", CHAT, GREET, "en")
    photo = parse_update(tg.photo_update(CHAT, caption="这个坏了"))
    assert (photo.kind, photo.text) == ("photo", "这个坏了")
    assert photo.files == (FileRef("AgAC-small", 1200, 90 * 67), FileRef("AgAC-large", 98000, 1280 * 960))
    assert photo.metadata()["telegram"]["photo"] is True and "AgAC" not in json.dumps(photo.metadata())
    image_file = parse_update(tg.document_update(CHAT, b"png", "image/png", "shot.png"))
    assert image_file.kind == "photo" and len(image_file.files) == 1 and image_file.files[0].size == 3
    assert parse_update(tg.document_update(CHAT, b"%PDF", "application/pdf", "invoice.pdf")).kind == "unsupported"
    click = parse_update(tg.callback_update(CHAT, "/request_human"))
    assert (click.kind, click.chat_id, click.text) == ("callback", CHAT, "/request_human")
    assert click.callback_query_id and click.metadata()["telegram"]["button"] is True
    sticker = tg.text_update(CHAT, "x")
    sticker["message"].pop("text")
    sticker["message"]["sticker"] = {"file_id": "CAAC", "width": 512, "height": 512}
    assert parse_update(sticker).kind == "unsupported"
    assert parse_update({"update_id": 5, "edited_message": {"chat": {"id": 1}}}).kind == "ignored"
    assert parse_update({"update_id": 6, "my_chat_member": {}}).kind == "ignored"
    for bad in ([], "x", {"message": {}}, {"update_id": "7"}, {"update_id": 8, "message": {"text": "hi"}}):
        with pytest.raises(MalformedUpdate):
            parse_update(bad)


def test_metadata_has_ids_but_no_names(tg):
    meta = parse_update(tg.text_update(CHAT, "hi")).metadata()["telegram"]
    assert meta["chat_type"] == "private" and meta["language_code"] == "zh-hans"
    assert "测试" not in json.dumps(meta, ensure_ascii=False)


def test_the_largest_photo_size_within_the_limit_is_chosen():
    sizes = (FileRef("s", 1_200, 90 * 67), FileRef("m", 40_000, 800 * 600), FileRef("l", 900_000, 1280 * 960))
    assert choose_file(sizes, 8_000_000).file_id == "l"
    assert choose_file(sizes, 50_000).file_id == "m"
    assert choose_file(sizes, 1_000) is None  # all declared too big: nothing to download
    assert choose_file((FileRef("unknown"),), 1_000).file_id == "unknown"  # its download is capped
    assert choose_file((), 1_000) is None


def test_the_file_endpoint_follows_the_api_base(tg):
    assert file_base_for("https://api.telegram.org/bot") == DEFAULT_FILE_BASE == "https://api.telegram.org/file/bot"
    assert file_base_for(tg.api_base) == tg.file_base
    assert TelegramOutput("1:a", tg.api_base).file_base == tg.file_base
    channel = TelegramInput.from_credentials({"token": "1:a", "webhook_secret": "s", "api_base": "http://x/bot",
                                              "file_base": "http://files.x/file/bot"})
    assert channel.get_output_channel().file_base == "http://files.x/file/bot"


def test_split_text_respects_telegram_limit():
    assert split_text("") == [] and split_text("  ") == []
    assert split_text("短消息") == ["短消息"]
    parts = split_text(("一段话。" * 30 + "\n\n") * 60)
    assert len(parts) > 1 and all(0 < len(p) <= 4096 for p in parts)
    assert split_text("x" * 5000) == ["x" * 4096, "x" * 904]


def test_callback_data_fits_in_64_bytes():
    assert callback_data_for("/request_human") == ("/request_human", False)
    data, stored = callback_data_for(LONG_PAYLOAD)
    assert stored and data == callback_key(LONG_PAYLOAD) and len(data.encode()) <= 64
    assert callback_data_for("k:looks-like-a-key")[1] is True  # never ambiguous


def test_render_keyboard_rows_and_storage():
    stored: Dict[str, str] = {}
    markup = render_keyboard(BUTTONS + [{"title": "官网", "url": "https://shop.example"}], stored.__setitem__)
    rows = markup.to_dict()["inline_keyboard"]
    assert [len(r) for r in rows] == [1, 1, 1, 1]  # long Chinese titles: one per row
    assert rows[0][0] == {"text": "转人工客服", "callback_data": "/request_human"}
    assert rows[2][0]["callback_data"] == callback_key(LONG_PAYLOAD)
    assert stored == {callback_key(LONG_PAYLOAD): LONG_PAYLOAD}
    assert rows[3][0] == {"text": "官网", "url": "https://shop.example"}
    ratings = render_keyboard([{"title": str(n), "payload": f"/rate{n}"} for n in range(1, 6)], stored.__setitem__)
    assert [len(r) for r in ratings.to_dict()["inline_keyboard"]] == [5]


def test_secret_check():
    assert secret_ok(SECRET, SECRET)
    assert not secret_ok(SECRET + "x", SECRET)
    assert not secret_ok(None, SECRET)
    assert not secret_ok("", "")
    assert not secret_ok("anything", None)
    assert not secret_ok("密码", SECRET)


def test_credentials():
    channel = TelegramInput.from_credentials({"token": "1:a", "webhook_secret": "s", "api_base": "http://x/bot"})
    assert channel.mode == "webhook" and channel.get_output_channel().api_base == "http://x/bot"
    assert TelegramInput.from_credentials({"token": "1:a", "mode": "polling"}).mode == "polling"
    assert TelegramInput.from_credentials({"token": "1:a", "webhook_secret": "s"}).api_base \
        == "https://api.telegram.org/bot"
    with pytest.raises(ValueError, match="webhook_secret"):
        TelegramInput.from_credentials({"token": "1:a"})
    with pytest.raises(ValueError, match="mode"):
        TelegramInput.from_credentials({"token": "1:a", "mode": "push", "webhook_secret": "s"})
    with pytest.raises(RasaException):
        TelegramInput.from_credentials({"webhook_secret": "s"})


# ---------------------------------------------------------------- webhook


@pytest.mark.asyncio
async def test_webhook_registered_at_start_with_secret(webhook, tg):
    [call] = tg.calls_of("setWebhook")
    assert call.params["url"] == f"{webhook.url}/webhooks/telegram/webhook"
    assert call.params["secret_token"] == SECRET
    assert call.params["allowed_updates"] == ["message", "callback_query"]


@pytest.mark.asyncio
async def test_secret_header_is_required(webhook, tg):
    update = tg.text_update(CHAT, "你好")
    assert (await webhook.post(update, secret=None)).status_code == 403
    assert (await webhook.post(update, secret="wrong")).status_code == 403
    assert (await webhook.post(update, secret=SECRET[:-1])).status_code == 403
    assert webhook.kefu.messages == [] and tg.calls_of("sendMessage") == []
    # refused updates were not claimed: Telegram's real delivery still goes through
    assert (await webhook.post(update)).status_code == 200
    assert webhook.kefu.texts == ["你好"]


@pytest.mark.asyncio
async def test_malformed_and_unhandled_updates(webhook, tg):
    assert (await webhook.post(b"{not json", raw=True)).status_code == 400
    assert (await webhook.post(b"", raw=True)).status_code == 400
    assert (await webhook.post([1, 2])).status_code == 400
    assert (await webhook.post({"message": {"text": "no id"}})).status_code == 400
    assert (await webhook.post(b"\xff\xfe", raw=True)).status_code == 400
    huge = await webhook.post(b'{"update_id": 1, "x": "' + b"a" * 1_100_000 + b'"}', raw=True)
    assert huge.status_code == 413
    edited = await webhook.post({"update_id": 99, "edited_message": {"message_id": 1, "chat": {"id": CHAT}}})
    assert edited.status_code == 200 and edited.json()["outcome"] == "ignored"
    assert webhook.kefu.messages == [] and tg.calls_of("sendMessage") == []


@pytest.mark.asyncio
async def test_text_round_trip(webhook, tg):
    update = tg.text_update(CHAT, "帮我查下订单2611010000000001")
    answer = await webhook.post(update)
    assert answer.status_code == 200 and answer.json()["outcome"] == "text"
    [message] = webhook.kefu.messages
    assert message.sender_id == f"telegram:{CHAT}" and message.input_channel == "telegram"
    assert message.message_id == str(update["update_id"])
    assert message.metadata["telegram"]["message_id"] == update["message"]["message_id"]
    assert tg.texts_to(CHAT) == ["收到：帮我查下订单2611010000000001"]
    [photo] = tg.calls_of("sendPhoto", CHAT)
    assert photo.params["photo"] == "https://shop.example/logo.png"
    assert [d.status for d in channel_state().deliveries("telegram")] == ["sent", "sent"]


@pytest.mark.asyncio
async def test_start_greets_or_uses_the_deep_link_payload(webhook, tg):
    await webhook.post(tg.text_update(CHAT, "/start"))
    await webhook.post(tg.text_update(CHAT, "/start order_2611010000000001"))
    assert webhook.kefu.texts == ["/greet", "order_2611010000000001"]


@pytest.mark.asyncio
async def test_buttons_are_an_inline_keyboard_and_clicks_come_back(webhook, tg):
    await webhook.post(tg.text_update(CHAT, "菜单"))
    [sent] = tg.calls_of("sendMessage", CHAT)
    assert sent.params["text"] == "请选择："
    keyboard = sent.params["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in keyboard] == [["转人工客服"], ["5 非常满意"], ["原因"]]
    assert keyboard[1][0]["callback_data"] == '/inform{"rating": "5"}'
    assert len(keyboard[2][0]["callback_data"].encode()) <= 64  # the fake refuses longer, like Telegram

    for title in ("5 非常满意", "原因", "转人工客服"):
        click = tg.click(CHAT, title)
        answer = await webhook.post(click)
        assert answer.json()["outcome"] == "callback"
        assert click["callback_query"]["id"] in [c.params["callback_query_id"]
                                                 for c in tg.calls_of("answerCallbackQuery")]
    assert webhook.kefu.texts[1:] == ['/inform{"rating": "5"}', LONG_PAYLOAD, "/request_human"]
    assert webhook.kefu.messages[1].metadata["telegram"]["button"] is True


@pytest.mark.asyncio
async def test_unknown_button_key_is_answered_not_processed(webhook, tg):
    answer = await webhook.post(tg.callback_update(CHAT, callback_key("never stored")))
    assert answer.json()["outcome"] == "expired"
    [call] = tg.calls_of("answerCallbackQuery")
    assert call.params["text"] == polite("expired", "zh-hans")
    assert webhook.kefu.messages == []


@pytest.mark.asyncio
async def test_a_photo_becomes_evidence_without_its_exif(webhook, tg, evidence, tmp_path):
    photo = jpeg((640, 480))
    assert b"SecretCam" in photo
    sizes = [tg.photo_size(jpeg((90, 67)), 90, 67), tg.photo_size(photo, 640, 480)]
    answer = await webhook.post(tg.photo_update(CHAT, caption="收到的杯子是碎的", photos=sizes))
    assert answer.json()["outcome"] == "photo"
    # the largest size was asked for and downloaded, once
    assert [c.params["file_id"] for c in tg.calls_of("getFile")] == [sizes[1]["file_id"]]
    assert tg.downloads == [tg.files[sizes[1]["file_id"]]["file_path"]]
    (row,) = rows_of(evidence, CHAT)
    assert row.channel == "telegram" and row.content_type == "image/jpeg" and (row.width, row.height) == (640, 480)
    stored = (tmp_path / "evidence" / row.storage_key).read_bytes()
    assert b"SecretCam" not in stored
    with Image.open(io.BytesIO(stored)) as kept:
        assert 0x010F not in kept.getexif() and not kept.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    # Rasa hears the photo, as the chat's message, then the caption as a message of its own
    assert webhook.kefu.texts == [PHOTO_TEXT, "收到的杯子是碎的"]
    first, caption = webhook.kefu.messages
    assert {first.sender_id, caption.sender_id} == {f"telegram:{CHAT}"}
    assert first.input_channel == caption.input_channel == "telegram"
    assert first.output_channel is caption.output_channel is webhook.channel.get_output_channel()
    assert first.metadata["telegram"]["photo"] is True
    assert sizes[1]["file_id"] not in json.dumps(first.metadata) and "photos/" not in json.dumps(first.metadata)
    assert tg.texts_to(CHAT) == [f"收到：{PHOTO_TEXT}", "收到：收到的杯子是碎的"]


@pytest.mark.asyncio
async def test_the_largest_size_within_the_limit_is_fetched(webhook, tg, tmp_path, state, monkeypatch):
    small = photo_intake(tmp_path, max_bytes=20_000)
    monkeypatch.setattr(telegram_channel, "intake", lambda: small)
    big = jpeg((400, 300), noise=True)
    assert len(big) > small.max_bytes
    sizes = [tg.photo_size(jpeg((90, 67)), 90, 67), tg.photo_size(big, 400, 300)]
    await webhook.post(tg.photo_update(CHAT, photos=sizes))
    assert [c.params["file_id"] for c in tg.calls_of("getFile")] == [sizes[0]["file_id"]]
    (row,) = rows_of(small, CHAT)
    assert (row.width, row.height) == (90, 67)
    assert webhook.kefu.texts == [PHOTO_TEXT]


@pytest.mark.asyncio
async def test_a_too_big_photo_is_refused_without_downloading_it(webhook, tg, tmp_path, state, monkeypatch):
    small = photo_intake(tmp_path, max_bytes=20_000)
    monkeypatch.setattr(telegram_channel, "intake", lambda: small)
    big = jpeg((400, 300), noise=True)
    # every size Telegram offers is declared too big: not even getFile
    answer = await webhook.post(tg.photo_update(CHAT, photos=[tg.photo_size(big, 400, 300)]))
    assert answer.json()["outcome"] == "photo_too_big"
    assert tg.calls_of("getFile") == [] and tg.downloads == []
    await webhook.post(tg.photo_update(CHAT + 1, caption="看图", language_code="en-GB",
                                       photos=[tg.photo_size(big, 400, 300)]))
    assert tg.texts_to(CHAT) == [refusal("too_big", small.max_bytes, "zh")] and "MB" in tg.texts_to(CHAT)[0]
    assert tg.texts_to(CHAT + 1) == [refusal("too_big", small.max_bytes, "en")]
    # the update said small, getFile says big: nothing downloaded
    liar = tg.photo_size(big, 400, 300, declared=1_000)
    tg.files[liar["file_id"]]["file_size"] = len(big)
    await webhook.post(tg.photo_update(CHAT, photos=[liar]))
    assert len(tg.calls_of("getFile")) == 1 and tg.downloads == []
    # both said small: the download stops past the limit
    await webhook.post(tg.photo_update(CHAT, photos=[tg.photo_size(big, 400, 300, declared=1_000)]))
    assert len(tg.downloads) == 1 and tg.texts_to(CHAT)[-1] == refusal("too_big", small.max_bytes, "zh")
    assert webhook.kefu.messages == [] and rows_of(small, CHAT) == [] and rows_of(small, CHAT + 1) == []
    assert not (tmp_path / "evidence").exists() or not any((tmp_path / "evidence").rglob("*.*"))


@pytest.mark.asyncio
async def test_an_image_file_is_kept_and_other_files_are_not(webhook, tg, evidence):
    png = io.BytesIO()
    Image.new("RGB", (32, 24), (0, 120, 0)).save(png, format="PNG")
    answer = await webhook.post(tg.document_update(CHAT, png.getvalue(), "image/png", "screenshot.png"))
    assert answer.json()["outcome"] == "photo"
    (row,) = rows_of(evidence, CHAT)
    assert row.content_type == "image/png" and "screenshot" not in row.storage_key
    answer = await webhook.post(tg.document_update(CHAT, b"not a picture", "image/jpeg", "photo.jpg"))
    assert answer.json()["outcome"] == "photo_not_image"
    pdf = await webhook.post(tg.document_update(CHAT, b"%PDF-1.4", "application/pdf", "invoice.pdf"))
    assert pdf.json()["outcome"] == "unsupported"
    assert webhook.kefu.texts == [PHOTO_TEXT]
    assert tg.texts_to(CHAT)[1:] == [refusal("not_image", evidence.max_bytes, "zh"), polite("unsupported", "zh")]
    assert len(rows_of(evidence, CHAT)) == 1 and len(tg.downloads) == 2  # the PDF is never fetched


@pytest.mark.asyncio
async def test_a_failed_download_is_answered_unavailable(webhook, tg, evidence, caplog):
    caplog.set_level(logging.INFO)
    photo = jpeg()

    async def send(update: Dict[str, Any]) -> str:
        return (await webhook.post(update)).json()["outcome"]

    tg.fail_next("getFile", 500, "Internal Server Error")
    outcomes = [await send(tg.photo_update(CHAT, photos=[tg.photo_size(photo, 64, 48)]))]
    tg.fail_downloads(502)
    outcomes.append(await send(tg.photo_update(CHAT, photos=[tg.photo_size(photo, 64, 48)])))
    # a file Telegram does not know (getFile: 400 invalid file_id)
    outcomes.append(await send(tg.photo_update(CHAT)))
    assert outcomes == ["photo_unavailable"] * 3
    assert tg.texts_to(CHAT) == [refusal("unavailable", evidence.max_bytes, "zh")] * 3
    assert webhook.kefu.messages == [] and rows_of(evidence, CHAT) == []
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name == "channels.telegram")
    assert "refused: unavailable" in ours and str(CHAT) not in ours and tg.token not in ours
    # the next try goes through
    await webhook.post(tg.photo_update(CHAT, photos=[tg.photo_size(photo, 64, 48)]))
    assert webhook.kefu.texts == [PHOTO_TEXT] and len(rows_of(evidence, CHAT)) == 1


@pytest.mark.asyncio
async def test_duplicate_update_is_dropped(webhook, tg):
    update = tg.text_update(CHAT, "在吗")
    assert (await webhook.post(update)).json()["outcome"] == "text"
    assert (await webhook.post(update)).json()["outcome"] == "duplicate"
    assert webhook.kefu.texts == ["在吗"] and len(tg.calls_of("sendMessage")) == 1


@pytest.mark.asyncio
async def test_a_failing_dialogue_gets_a_polite_answer(webhook, tg):
    webhook.kefu.fail = True
    answer = await webhook.post(tg.text_update(CHAT, "你好"))
    assert answer.status_code == 200 and answer.json()["outcome"] == "failed"
    assert tg.texts_to(CHAT) == [polite("error", "zh")]


# ---------------------------------------------------------------- sending


@pytest.mark.asyncio
async def test_send_is_retried_on_5xx_and_recorded(tg, state):
    out = TelegramOutput(tg.token, tg.api_base, base_delay=0.01)
    tg.fail_next("sendMessage", 500, "Internal Server Error", times=2)
    await out.send_text_message(f"telegram:{CHAT}", "您的订单已发货")
    assert [c.params["text"] for c in tg.calls_of("sendMessage", CHAT)] == ["您的订单已发货"] * 3
    [record] = state.deliveries("telegram")
    assert (record.status, record.attempts) == ("sent", 3)
    assert str(CHAT) not in record.recipient_key


@pytest.mark.asyncio
async def test_429_waits_retry_after(tg, state):
    out = TelegramOutput(tg.token, tg.api_base, base_delay=0.01)
    tg.fail_next("sendPhoto", 429, "Too Many Requests: retry after 1", retry_after=1)
    started = time.monotonic()
    await out.send_image_url(f"telegram:{CHAT}", "https://shop.example/a.png")
    assert time.monotonic() - started >= 1.0
    assert len(tg.calls_of("sendPhoto", CHAT)) == 2
    assert [(r.status, r.attempts) for r in state.deliveries("telegram")] == [("sent", 2)]


@pytest.mark.asyncio
async def test_it_sends_only_to_telegram_conversations(tg, state):
    """A push addressed to another channel's conversation (a forged
    output_channel=telegram on a web or REST conversation) reaches nobody."""
    out = TelegramOutput(tg.token, tg.api_base, base_delay=0.01)
    for recipient in (f"rest:{CHAT}", f"web:{CHAT}", str(CHAT), f"wechat:{CHAT}"):
        await out.send_text_message(recipient, "钓鱼链接 http://evil.test")
        await out.send_text_with_buttons(recipient, "点这里", [{"title": "领奖", "payload": "/affirm"}])
        await out.send_image_url(recipient, "https://evil.test/qr.png")
    assert tg.calls_of("sendMessage") == [] and tg.calls_of("sendPhoto") == []


@pytest.mark.asyncio
async def test_chat_not_found_is_permanent(tg, state):
    tg.unknown_chats.add(CHAT)
    out = TelegramOutput(tg.token, tg.api_base, base_delay=0.01)
    await out.send_text_message(f"telegram:{CHAT}", "hello")
    assert len(tg.calls_of("sendMessage")) == 1  # not retried
    [record] = state.deliveries("telegram")
    assert record.status == "failed" and record.attempts == 1 and "chat not found" in record.error.lower()


# ---------------------------------------------------------------- polling


@pytest.mark.asyncio
async def test_polling_picks_up_updates_and_stops_cleanly(tg, state):
    tg.webhook = {"url": "https://old.example/hook", "secret_token": "x"}  # left over from production
    channel = TelegramInput(tg.token, mode="polling", api_base=tg.api_base, poll_timeout=20,
                            output=TelegramOutput(tg.token, tg.api_base, base_delay=0.01))
    kefu = Kefu()
    await channel.start(kefu)
    first = tg.queue(tg.text_update(CHAT, "你好"))
    await tg.await_for(lambda: tg.texts_to(CHAT))
    tg.queue(tg.callback_update(CHAT, "/request_human"))
    await tg.await_for(lambda: len(kefu.messages) == 2)
    assert tg.calls_of("deleteWebhook") and tg.webhook["url"] == ""
    assert kefu.texts == ["你好", "/request_human"] and tg.calls_of("answerCallbackQuery")
    assert kefu.messages[0].sender_id == f"telegram:{CHAT}"
    # the first update was confirmed with the next offset, as the Bot API wants
    await tg.await_for(lambda: any(int(c.params.get("offset") or 0) > first["update_id"]
                                   for c in tg.calls_of("getUpdates")))
    started = time.monotonic()
    await channel.stop()  # in the middle of a 20 s long poll
    assert time.monotonic() - started < 3
    assert channel._poller is None
    tg.queue(tg.text_update(CHAT, "after stop"))
    await asyncio.sleep(0.3)
    assert kefu.texts == ["你好", "/request_human"]


@pytest.mark.asyncio
async def test_polling_runs_with_the_server(tg, state):
    """The blueprint's listeners start polling with the server and stop it with it."""
    channel = TelegramInput(tg.token, mode="polling", api_base=tg.api_base, poll_timeout=20)
    kefu = Kefu()
    channel_blueprint = channel.blueprint
    channel.blueprint = lambda on_new_message: channel_blueprint(kefu)  # type: ignore[method-assign]  # a test double
    _, server = await start_server(channel, kefu, free_port())
    tg.queue(tg.text_update(CHAT, "hi"))
    await tg.await_for(lambda: kefu.texts == ["hi"])
    await stop_server(server)
    assert channel._poller is None


# ---------------------------------------------------------------- end to end

SHIPPED = "2611010000000001"


@pytest.fixture(scope="module")
def kefu_on_telegram(shop_url, tmp_path_factory):
    """Kefu's real servers with the Telegram channel, webhook mode, talking to
    the fake Bot API."""
    rasa_port = free_port()
    with FakeTelegram() as tg:
        credentials = (
            "rest:\n"
            "channels.telegram.TelegramInput:\n"
            f'  token: "{tg.token}"\n'
            f'  webhook_secret: "{SECRET}"\n'
            f'  webhook_url: "http://127.0.0.1:{rasa_port}/webhooks/telegram/webhook"\n'
            "  mode: webhook\n"
            f'  api_base: "{tg.api_base}"\n'
        )
        servers = start_kefu(tmp_path_factory.mktemp("telegram-servers"), shop_url, credentials, rasa_port=rasa_port,
                             api=True)
        try:
            tg.wait_for(lambda: tg.webhook["url"], timeout=30)
            yield tg, servers
        finally:
            servers.stop()


def _say(tg: FakeTelegram, chat: int, update: Dict[str, Any]) -> str:
    """Deliver an update as Telegram does and return Kefu's new replies."""
    before = len(tg.texts_to(chat))
    response = tg.deliver(update)
    assert response.status_code == 200, response.text
    tg.wait_for(lambda: len(tg.texts_to(chat)) > before, timeout=30)
    time.sleep(0.3)  # a turn may send several messages; the webhook answered after all of them
    return "\n".join(tg.texts_to(chat)[before:])


@pytest.mark.e2e
def test_conversation_through_kefu(kefu_on_telegram):
    tg, servers = kefu_on_telegram
    chat = random.randint(10**8, 10**9)
    assert tg.calls_of("setWebhook")[-1].params["secret_token"] == SECRET
    # a forged call never reaches the conversation
    forged = httpx.post(**tg.webhook_request(tg.text_update(chat, "你好"), secret="forged"), timeout=10)
    assert forged.status_code == 403

    assert CJK.search(_say(tg, chat, tg.text_update(chat, "/start")))
    assert "后4位" in _say(tg, chat, tg.text_update(chat, f"帮我查下订单{SHIPPED}"))
    reply = _say(tg, chat, tg.text_update(chat, "5678"))
    assert SHIPPED in reply and "运输中" in reply

    # quick replies: out of scope offers buttons; tapping one sends its payload
    _say(tg, chat, tg.text_update(chat, "明天天气怎么样"))
    keyboard = tg.calls_of("sendMessage", chat)[-1].params["reply_markup"]
    titles = [b["text"] for row in keyboard["inline_keyboard"] for b in row]
    assert "转人工" in titles
    click = tg.click(chat, "转人工")
    reply = _say(tg, chat, click)
    assert "人工" in reply
    assert click["callback_query"]["id"] in [c.params["callback_query_id"] for c in tg.calls_of("answerCallbackQuery")]
    tracker = rasa_api().get(f"{servers.rasa_url}/conversations/telegram:{chat}/tracker", timeout=10).json()
    user_texts = [e.get("text") for e in tracker["events"] if e["event"] == "user"]
    assert user_texts[-1] == "/request_human"
    assert user_texts[0] == "/greet"
    assert {e.get("input_channel") for e in tracker["events"] if e["event"] == "user"} == {"telegram"}

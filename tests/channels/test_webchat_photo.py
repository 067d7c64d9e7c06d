"""Photo upload from the web widget (``POST /webhooks/webchat/photo`` of
channels/webchat.py): the wire rules as pure functions, the JWT rule on a
plain Sanic server, and everything else over the wire against Kefu's real
Rasa and action servers on the trained model, with a socket.io client as
the page: a photo is kept without its EXIF and the bot answers on the
socket; a session is only ever credited with its own photos; a missing
token, bytes that are no photo, a wrong type, an oversized body and a page
of another origin are refused politely, the oversized body before it is
read."""
from __future__ import annotations

import asyncio
import io
import os
import queue
import socket
import time
from pathlib import Path
from typing import Dict, Optional

import aiohttp
import jwt
import pytest
import requests
import socketio
from PIL import ExifTags, Image
from sanic import Sanic

from channels.webchat import (
    WIDGET_HEADERS,
    WebChatInput,
    cors_headers,
    declared_length,
    is_image_type,
    new_session_token,
    origin_allowed,
    own_origins,
    photo_language,
    photo_refusal_text,
    session_id_for,
)
from kefu.core.config import EvidenceOptions
from kefu.evidence import intake as evidence_intake
from kefu.evidence.storage import open_storage
from kefu.state import use_channel_state
from kefu.state.sql import SqlChannelState
from kefu.store.db import make_engine, migrate
from kefu.store.evidence import EvidenceStore
from tests.conftest import MODEL, rasa_api, serve_blueprint, start_kefu

SHOP_ORIGIN = "https://shop.example.com"
#: the servers' photo limit (KEFU_EVIDENCE_MAX_BYTES's default)
LIMIT = EvidenceOptions().max_bytes
#: Sanic's cap on every other request body (kefu/ops/embedded.py): a photo may be bigger
SANIC_CAP = 2 * 1024 * 1024
WIDGET_JWT_KEY = "a-widget-jwt-key-of-at-least-32-bytes"


def _png(colour: tuple, size: tuple = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def _jpeg_with_exif() -> bytes:
    """A JPEG carrying what a phone camera writes: its make and model, and
    where it was taken."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "KefuCam"
    exif[ExifTags.Base.Model] = "Serial-4711"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 14.0, 2.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (121.0, 28.0, 7.5)
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (180, 40, 40)).save(out, "JPEG", exif=exif)
    return out.getvalue()


# --------------------------------------------------------------------------
# wire rules
# --------------------------------------------------------------------------


def test_declared_type_language_and_length_are_read_strictly():
    assert is_image_type("image/png") and is_image_type("IMAGE/JPEG; charset=binary")
    for bad in (None, "", "image/", "text/plain", "application/octet-stream", "multipart/form-data; boundary=x"):
        assert not is_image_type(bad)
    assert photo_language({"X-Kefu-Language": "en"}) == "en" and photo_language({"X-Kefu-Language": " ZH "}) == "zh"
    assert photo_language({}) is None and photo_language({"X-Kefu-Language": "fr"}) is None
    assert declared_length({"Content-Length": "123"}) == 123
    assert declared_length({}) is None and declared_length({"Content-Length": "-5"}) is None


def test_only_configured_pages_or_kefus_own_may_upload():
    own = own_origins("http", "kefu.example.com:5005", {})
    assert own == ["http://kefu.example.com:5005"]
    assert origin_allowed("http://kefu.example.com:5005", None, own)
    assert not origin_allowed("https://evil.example.com", None, own)
    behind_proxy = own_origins("http", "127.0.0.1:5005", {"X-Forwarded-Proto": "https",
                                                          "X-Forwarded-Host": "kefu.example.com"})
    assert origin_allowed("https://kefu.example.com", None, behind_proxy)
    assert origin_allowed(SHOP_ORIGIN, [SHOP_ORIGIN, "https://b.example.com"], own)
    assert origin_allowed("HTTPS://SHOP.example.com", [SHOP_ORIGIN + "/"], own)
    assert not origin_allowed("https://shop.example.com.evil.net", [SHOP_ORIGIN], own)
    assert not origin_allowed("http://kefu.example.com:5005", [SHOP_ORIGIN], own)  # as the socket: the list only
    assert origin_allowed("https://any.example.net", ["*"], own)


def test_cors_headers_name_the_exact_origin_and_the_widgets_headers():
    assert cors_headers(None) == {} and cors_headers(None, preflight=True) == {}
    assert cors_headers(SHOP_ORIGIN) == {"Access-Control-Allow-Origin": SHOP_ORIGIN}
    preflight = cors_headers(SHOP_ORIGIN, preflight=True)
    assert preflight["Access-Control-Allow-Methods"] == "GET, POST"
    assert preflight["Access-Control-Allow-Headers"] == ", ".join(WIDGET_HEADERS)
    assert set(WIDGET_HEADERS) == {"X-Kefu-Session", "X-Kefu-Language", "Content-Type", "Authorization",
                                   "If-None-Match"}
    assert "Access-Control-Allow-Credentials" not in preflight


def test_refusals_are_polite_in_the_pages_language_or_both():
    assert "最大8MB" in photo_refusal_text("too_big", LIMIT, "zh")
    assert "at most 8 MB" in photo_refusal_text("too_big", LIMIT, "en")
    both = photo_refusal_text("not_image", LIMIT, None)
    assert "不是能查看的照片" in both and "isn't a photo" in both
    assert "刷新" in photo_refusal_text("no_session", LIMIT, "zh")
    assert "reload" in photo_refusal_text("no_session", LIMIT, "en")
    assert "刷新" in photo_refusal_text("no_session", LIMIT, None) and "reload" in photo_refusal_text(
        "no_session", LIMIT, None)
    assert "不是能查看的照片" in photo_refusal_text("empty", LIMIT, "zh")
    assert "够多" in photo_refusal_text("too_many", LIMIT, "zh")
    assert "稍后" in photo_refusal_text("unavailable", LIMIT, "zh")


# --------------------------------------------------------------------------
# JWT: the blueprint on a plain Sanic server (a fake assistant), a real intake
# --------------------------------------------------------------------------


@pytest.fixture
def plain_intake(tmp_path, monkeypatch):
    """This process's intake on a fresh shop database and evidence directory."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("KEFU_EVIDENCE_DIR", str(tmp_path / "evidence"))
    evidence_intake.intake.cache_clear()
    use_channel_state(SqlChannelState(make_engine(url)))
    yield url
    use_channel_state(None)
    evidence_intake.intake.cache_clear()


@pytest.mark.asyncio
async def test_with_a_jwt_key_an_upload_needs_a_valid_bearer_token(plain_intake):
    Sanic.test_mode = True
    heard = []

    async def on_new_message(message):
        heard.append(message)
        await message.output_channel.send_text_message(message.sender_id, "照片收到啦")

    channel = WebChatInput(redis_url=None, jwt_key=WIDGET_JWT_KEY, jwt_method="HS256")
    server, port = await serve_blueprint(channel.blueprint(on_new_message), "/webhooks/webchat", "webchat_photo")
    url = f"http://127.0.0.1:{port}/webhooks/webchat/photo"
    token = new_session_token()
    base = {"X-Kefu-Session": token, "Content-Type": "image/png"}
    good = jwt.encode({"sub": "shopper"}, WIDGET_JWT_KEY, algorithm="HS256")
    forged = jwt.encode({"sub": "shopper"}, "another-key-of-at-least-32-bytes!!", algorithm="HS256")
    try:
        async with aiohttp.ClientSession() as http:
            for extra in ({}, {"Authorization": f"Bearer {forged}"}, {"Authorization": good},
                          {"Authorization": "Bearer not-a-jwt"}):
                async with http.post(url, headers={**base, **extra}, data=_png((1, 2, 3))) as reply:
                    assert reply.status == 401, extra
                    assert (await reply.json())["error"] == "no_session"
            async with http.post(url, headers={**base, "Authorization": f"Bearer {good}"},
                                 data=_png((1, 2, 3))) as reply:
                assert reply.status == 200 and await reply.json() == {"ok": True, "photos": 1, "duplicate": False}
        for _ in range(50):  # the turn runs after the answer
            if heard:
                break
            await asyncio.sleep(0.1)
        [message] = heard
        assert (message.text, message.sender_id) == ("/send_photo", f"web:{session_id_for(token)}")
        assert EvidenceStore(make_engine(plain_intake)).waiting_count(message.sender_id) == 1
    finally:
        server.close()


# --------------------------------------------------------------------------
# over the wire: Kefu's real servers
# --------------------------------------------------------------------------

CREDENTIALS = f"""channels.rest.ReliableRestInput:
channels.webchat.WebChatInput:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
  cors_allowed_origins: {SHOP_ORIGIN}
"""


@pytest.fixture(scope="module")
def evidence_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("evidence")


@pytest.fixture(scope="module")
def web(shop_url, tmp_path_factory, evidence_dir):
    """Kefu with the widget embeddable on the shop's pages, its photos kept
    in a directory of this test's; Rasa's own CORS allows the shop too, so
    that Rasa's CORS handling meets the photo route's."""
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train`")
    servers = start_kefu(tmp_path_factory.mktemp("webchat-photo"), shop_url, CREDENTIALS, api=True,
                         env={"REDIS_URL": "", "KEFU_EVIDENCE_DIR": str(evidence_dir),
                              "KEFU_CORS_ORIGINS": SHOP_ORIGIN})
    yield servers
    servers.stop()


class Page:
    """A page of the widget: a socket.io client holding a session the server
    gave it, and the bot's messages to it."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.said: "queue.Queue[dict]" = queue.Queue()
        confirmed: "queue.Queue[str]" = queue.Queue()
        self.client = socketio.Client()
        self.client.on("bot_uttered", self.said.put)
        self.client.on("session_confirm", confirmed.put)
        # polling, as the widget falls back to: the websocket transport of
        # this Sanic does not work with python-engineio's driver
        self.client.connect(server_url, transports=["polling"], wait_timeout=15)
        self.client.emit("session_request", {"session_token": None})
        self.token = confirmed.get(timeout=15)
        self.conversation_id = f"web:{session_id_for(self.token)}"

    def upload(self, data: bytes, content_type: Optional[str] = "image/png",
               headers: Optional[Dict[str, str]] = None) -> requests.Response:
        sent = {"X-Kefu-Session": self.token, **({"Content-Type": content_type} if content_type else {}),
                **(headers or {})}
        return requests.post(f"{self.server_url}/webhooks/webchat/photo", data=data, headers=sent, timeout=60)

    def answer(self, timeout: float = 60) -> str:
        """The text of the bot's next message(s) to this page."""
        texts = [self.said.get(timeout=timeout).get("text", "")]
        time.sleep(0.5)  # a reply of several bubbles
        while not self.said.empty():
            texts.append(self.said.get_nowait().get("text", ""))
        return "\n".join(texts)

    def close(self) -> None:
        # abort: a polling client would otherwise wait out its pending long-poll (25 s)
        self.client.eio.disconnect(abort=True)


@pytest.fixture
def page(web):
    opened = Page(web.rasa_url)
    yield opened
    opened.close()


@pytest.fixture
def other_page(web):
    opened = Page(web.rasa_url)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def evidence(shop_url) -> EvidenceStore:
    return EvidenceStore(make_engine(shop_url))


def _refused(reply: requests.Response, status: int, error: str) -> str:
    """The polite text of a refusal, after checking its shape."""
    assert reply.status_code == status, (reply.status_code, reply.text)
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert body["error"] == error and body["text"], body
    return body["text"]


@pytest.mark.e2e
def test_a_photo_is_kept_without_its_exif_and_the_bot_answers_on_the_socket(web, page, evidence, evidence_dir):
    original = _jpeg_with_exif()
    with Image.open(io.BytesIO(original)) as sent:  # the camera's data is really there
        assert sent.getexif()[ExifTags.Base.Make] == "KefuCam"
        assert sent.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"

    reply = page.upload(original, "image/jpeg", {"X-Kefu-Language": "zh"})
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"ok": True, "photos": 1, "duplicate": False}
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "照片收到" in page.answer()  # utter_photo_outside_form, on the page's socket

    tracker = rasa_api().get(f"{web.rasa_url}/conversations/{page.conversation_id}/tracker", timeout=10).json()
    heard = [e for e in tracker["events"] if e.get("event") == "user"]
    assert heard[-1]["text"] == "/send_photo" and heard[-1]["parse_data"]["intent"]["name"] == "send_photo"
    assert heard[-1]["input_channel"] == "webchat"

    [kept] = evidence.of_conversation(page.conversation_id)
    assert (kept.channel, kept.content_type, kept.width, kept.height) == ("webchat", "image/jpeg", 320, 240)
    storage = open_storage(EvidenceOptions(directory=evidence_dir))
    for key in (kept.storage_key, kept.thumbnail_key):
        stored = storage.get(key)
        assert b"KefuCam" not in stored and b"Serial-4711" not in stored and b"Exif" not in stored
        with Image.open(io.BytesIO(stored)) as image:
            assert len(image.getexif()) == 0 and "exif" not in image.info

    again = page.upload(original, "image/jpeg")  # the same photo again: counted once
    assert again.status_code == 200 and again.json() == {"ok": True, "photos": 1, "duplicate": True}
    page.answer()
    assert len(evidence.of_conversation(page.conversation_id)) == 1


@pytest.mark.e2e
def test_without_a_valid_session_token_nothing_is_kept(web, page, evidence):
    url = f"{web.rasa_url}/webhooks/webchat/photo"
    photo = _png((10, 20, 30))
    for headers in ({}, {"X-Kefu-Session": "short"}, {"X-Kefu-Session": session_id_for(page.token)},
                    {"X-Kefu-Session": page.token + "x"}):
        reply = requests.post(url, data=photo, headers={"Content-Type": "image/png", **headers}, timeout=30)
        text = _refused(reply, 401, "no_session")
        assert "刷新" in text and "reload" in text  # no language said: both
    # a session token in the query or the body names nothing either
    reply = requests.post(url, params={"session_token": page.token}, data=photo,
                          headers={"Content-Type": "image/png", "X-Kefu-Language": "en"}, timeout=30)
    assert "reload" in _refused(reply, 401, "no_session")
    assert evidence.of_conversation(page.conversation_id) == []
    assert page.said.empty()


@pytest.mark.e2e
def test_one_session_is_never_credited_with_anothers_photo(page, other_page, evidence):
    red, blue = _png((200, 0, 0)), _png((0, 0, 200))
    assert page.upload(red).json() == {"ok": True, "photos": 1, "duplicate": False}
    assert "照片收到" in page.answer()
    assert other_page.said.empty()  # the other page heard nothing of it

    assert other_page.upload(blue).json() == {"ok": True, "photos": 1, "duplicate": False}
    assert "照片收到" in other_page.answer()
    # the same bytes as the first page's: new for this conversation, not a duplicate of the other's
    assert other_page.upload(red).json() == {"ok": True, "photos": 2, "duplicate": False}
    other_page.answer()
    assert page.said.empty()

    assert evidence.waiting_count(page.conversation_id) == 1
    assert evidence.waiting_count(other_page.conversation_id) == 2
    mine = {e.sha256 for e in evidence.of_conversation(page.conversation_id)}
    theirs = {e.sha256 for e in evidence.of_conversation(other_page.conversation_id)}
    assert len(mine) == 1 and mine < theirs


@pytest.mark.e2e
def test_what_is_no_photo_or_not_declared_one_is_refused_politely(page, evidence):
    text = _refused(page.upload(b"\x89PNG\r\n\x1a\n but nothing after", "image/png", {"X-Kefu-Language": "zh"}),
                    415, "not_image")
    assert "不是能查看的照片" in text and "isn't" not in text
    assert "isn't a photo" in _refused(page.upload(b"<svg onload=alert(1)>", "image/png",
                                                   {"X-Kefu-Language": "en"}), 415, "not_image")
    for declared in ("text/plain", "application/octet-stream", "multipart/form-data; boundary=x", None):
        _refused(page.upload(_png((1, 1, 1)), declared), 415, "not_image")
    assert "不是能查看的照片" in _refused(page.upload(b"", "image/png", {"X-Kefu-Language": "zh"}), 400, "empty")
    assert evidence.of_conversation(page.conversation_id) == []
    time.sleep(0.5)
    assert page.said.empty()  # Rasa heard nothing of it


def _raw_request(port: int, head: str, body_parts, read_timeout: float = 15) -> bytes:
    """Send a request by hand, ``body_parts`` as they come, never the end
    of the body; what the server answered by then."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as conn:
        conn.sendall(head.encode("ascii"))
        for part in body_parts:
            conn.sendall(part)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                data = conn.recv(65536)
                if not data:
                    break
                answer += data
        except (ConnectionResetError, socket.timeout):
            pass
        return answer


@pytest.mark.e2e
def test_an_oversized_photo_is_refused_before_it_is_read(web, page, evidence):
    port = web.rasa_port
    head = ("POST /webhooks/webchat/photo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
            f"X-Kefu-Session: {page.token}\r\nX-Kefu-Language: zh\r\n")
    # declared too big: answered at once, although almost none of it was sent
    started = time.monotonic()
    answer = _raw_request(port, head + f"Content-Length: {LIMIT + 1}\r\n\r\n", [b"\xff\xd8\xff" + b"\0" * 1024])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"connection: close" in answer.lower() and b'"too_big"' in answer
    assert time.monotonic() - started < 10
    # no length declared (chunked): refused after the limit, while the body goes on
    chunk = b"\0" * 65536
    chunks = [b"%x\r\n%b\r\n" % (len(chunk), chunk)] * (LIMIT // len(chunk) + 2)
    answer = _raw_request(port, head + "Transfer-Encoding: chunked\r\n\r\n", chunks)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"too_big"' in answer
    # ... and with requests, as a client sees it: the polite text
    reply = requests.post(f"{web.rasa_url}/webhooks/webchat/photo", data=b"\0" * (LIMIT + 1),
                          headers={"X-Kefu-Session": page.token, "Content-Type": "image/jpeg"}, timeout=60)
    text = _refused(reply, 413, "too_big")
    assert "最大8MB" in text and "at most 8 MB" in text
    assert evidence.of_conversation(page.conversation_id) == []


@pytest.mark.e2e
def test_a_photo_bigger_than_sanics_cap_on_other_requests_is_taken(page, evidence):
    """Every other request body stops at 2 MB; a phone's photo is often
    bigger, and the photo route streams its body up to the intake's limit."""
    noise = Image.frombytes("RGB", (1024, 1024), os.urandom(1024 * 1024 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    photo = out.getvalue()
    assert SANIC_CAP < len(photo) < LIMIT
    reply = page.upload(photo, "image/png")
    assert reply.status_code == 200, reply.text
    assert reply.json()["photos"] == 1
    [kept] = evidence.of_conversation(page.conversation_id)
    assert (kept.width, kept.height) == (1024, 1024)


@pytest.mark.e2e
def test_only_the_shops_pages_may_upload_and_their_preflight_is_answered(web, page, evidence):
    url = f"{web.rasa_url}/webhooks/webchat/photo"
    asking = {"Access-Control-Request-Method": "POST",
              "Access-Control-Request-Headers": "content-type,x-kefu-language,x-kefu-session"}
    preflight = requests.options(url, headers={"Origin": SHOP_ORIGIN, **asking}, timeout=30)
    assert preflight.status_code == 204, preflight.text
    assert preflight.headers["Access-Control-Allow-Origin"] == SHOP_ORIGIN  # once, and exactly it
    assert preflight.headers["Access-Control-Allow-Methods"] == "GET, POST"
    allowed = {h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "x-kefu-language", "x-kefu-session", "authorization"} <= allowed
    assert preflight.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in preflight.headers

    evil = requests.options(url, headers={"Origin": "https://evil.example.net", **asking}, timeout=30)
    assert evil.status_code == 403 and "Access-Control-Allow-Origin" not in evil.headers
    assert evil.json()["error"] == "origin" and evil.json()["text"]

    reply = page.upload(_png((5, 5, 5)), "image/png", {"Origin": "https://evil.example.net"})
    _refused(reply, 403, "origin")
    assert "Access-Control-Allow-Origin" not in reply.headers
    assert evidence.of_conversation(page.conversation_id) == []

    reply = page.upload(_png((6, 6, 6)), "image/png", {"Origin": SHOP_ORIGIN})
    assert reply.status_code == 200 and reply.json()["photos"] == 1
    assert reply.headers["Access-Control-Allow-Origin"] == SHOP_ORIGIN and reply.headers["Vary"] == "Origin"
    refused = page.upload(b"not a photo", "image/png", {"Origin": SHOP_ORIGIN})
    _refused(refused, 415, "not_image")
    assert refused.headers["Access-Control-Allow-Origin"] == SHOP_ORIGIN  # the shop's page can read why
    assert "照片收到" in page.answer()

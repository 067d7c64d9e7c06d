"""The web chat widget's channel (channels/webchat.py, channels/web/):
wire-format functions, the connector with a socket.io client and a fake
assistant, and the real widget in headless Chromium against Kefu's servers
(in-process, and two processes sharing rooms through Redis)."""
from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Awaitable, Callable

import aiohttp
import pytest
import requests
import socketio
import websockets.exceptions
import websockets.legacy.client
from sanic import Sanic

from channels.edge import TRY_AGAIN
from channels.webchat import (
    MAX_PACKET_BYTES,
    BadMessage,
    WebChatInput,
    WebChatOutput,
    allowed_origins,
    new_session_token,
    parse_metadata,
    parse_session_request,
    parse_user_message,
    render_attachment,
    render_buttons,
    render_custom,
    render_demo_page,
    render_image,
    render_notice,
    render_text,
    session_id_for,
)
from kefu.core import ids
from kefu.core.ids import recipient_key
from kefu.notify import notify_store
from kefu.state import use_channel_state
from kefu.state.sql import SqlChannelState
from kefu.store.db import make_engine, migrate
from kefu.store.notify import NotifyStore
from tests.conftest import IN_CI, MODEL, launch_chromium, rasa_api, serve_blueprint, start_kefu

SHIPPED = "2611010000000001"
TOKEN = new_session_token()
SESSION = session_id_for(TOKEN)
CONVERSATION = f"web:{SESSION}"


# --------------------------------------------------------------------------
# wire format
# --------------------------------------------------------------------------


def test_session_request_keeps_a_token_of_ours_and_replaces_anything_else():
    assert parse_session_request({"session_token": TOKEN}) == TOKEN
    for bad in (None, {}, {"session_token": None}, {"session_token": "short"}, {"session_token": "../../etc"},
                {"session_token": "x" * 65}, {"session_token": 12345678901}, {"session_id": SESSION}, "not a dict"):
        fresh = parse_session_request(bad)
        assert len(fresh) == 43 and fresh != TOKEN
    assert parse_session_request(None) != parse_session_request(None)


def test_a_session_id_is_derived_from_its_token_and_gives_no_way_back():
    assert session_id_for(TOKEN) == SESSION and len(SESSION) == 32
    assert session_id_for(new_session_token()) != SESSION
    # knowing a session id (from a leak, a log) is not a token for it
    assert parse_session_request({"session_token": SESSION}) != SESSION
    assert session_id_for(parse_session_request({"session_token": SESSION})) != SESSION


def test_user_message_is_parsed_or_refused_with_a_reason():
    ok = parse_user_message({"message": "  帮我查下订单 ", "metadata": '{"lang": "en"}'})
    assert (ok.text, ok.metadata, ok.language) == ("帮我查下订单", {"lang": "en"}, "en")
    assert parse_user_message({"message": "订单５６７８"}).text == "订单5678"  # full-width digits
    cases = [
        ("not a dict", "malformed"),
        ({"message": {"x": 1}}, "malformed"),
        ({"message": "\ud800 hi"}, "malformed"),  # a lone surrogate can never be stored
        ({"message": "   "}, "empty"),
        ({"message": "长" * 2001}, "too_long"),
    ]
    for data, reason in cases:
        with pytest.raises(BadMessage) as refused:
            parse_user_message(data)
        assert refused.value.reason == reason
    assert parse_user_message({"message": "长" * 2000}).text == "长" * 2000


def test_metadata_must_be_a_small_json_object():
    assert parse_metadata({"lang": "zh"}) == {"lang": "zh"}
    assert parse_metadata("[1, 2]") == {}
    assert parse_metadata("{not json") == {}
    assert parse_metadata({"blob": "x" * 5000}) == {}
    assert parse_metadata(None) == {}


def test_replies_render_as_rasa_socketio_messages():
    assert render_text("第一段\n\n第二段") == [{"text": "第一段"}, {"text": "第二段"}]
    buttons = [{"title": "转人工", "payload": "/request_human"},
               {"title": "5 非常满意", "payload": '/inform{"rating": "5"}'}]
    assert render_buttons("抱歉\n\n可以帮您", buttons) == [
        {"text": "抱歉"},
        {"text": "可以帮您", "quick_replies": [
            {"content_type": "text", "title": "转人工", "payload": "/request_human"},
            {"content_type": "text", "title": "5 非常满意", "payload": '/inform{"rating": "5"}'},
        ]},
    ]
    assert render_image("https://img.example.com/a.png") == {
        "attachment": {"type": "image", "payload": {"src": "https://img.example.com/a.png"}}}
    assert render_attachment("https://x.example.com/p.JPG?v=1")["attachment"]["type"] == "image"
    assert render_attachment("https://x.example.com/invoice.pdf") == {"text": "https://x.example.com/invoice.pdf"}
    assert render_attachment({"type": "file", "payload": {"src": "u"}}) == {
        "attachment": {"type": "file", "payload": {"src": "u"}}}
    assert render_custom({"kind": "card"}) == {"custom": {"kind": "card"}}


def test_notices_are_polite_and_in_the_shoppers_language():
    assert "太长" in render_notice("too_long", "zh")["text"]
    assert ("too long" in render_notice("too_long", "en", 100)["text"]
            and "100" in render_notice("too_long", "en", 100)["text"])
    assert "刷新" in render_notice("no_session", "zh")["text"] and "reload" in render_notice("no_session", "en")["text"]
    assert "could not be read" in render_notice("malformed", "en")["text"]
    assert render_notice("empty", "en") is None


def test_only_configured_shop_pages_may_open_the_socket():
    assert allowed_origins(None) is None and allowed_origins("") is None  # only Kefu's own pages
    assert allowed_origins("https://a.example.com, https://b.example.com") == ["https://a.example.com",
                                                                              "https://b.example.com"]


def test_demo_page_escapes_the_request_host():
    template = '<script src="__KEFU_SERVER__/webchat/widget.js" data-lang="__KEFU_LANG__"></script>'
    page = render_demo_page(template, 'http://evil"><script>alert(1)</script>', "<b>")
    assert "<script>alert(1)" not in page and "&quot;&gt;&lt;script&gt;" in page
    assert 'data-lang="zh"' in page
    assert 'data-lang="en"' in render_demo_page(template, "http://h", "en")


def test_credentials_pick_redis_from_the_key_or_the_environment(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    channel = WebChatInput.from_credentials({"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered"})
    assert channel.name() == "webchat" and channel.redis_url is None and channel.cors_allowed_origins is None
    assert WebChatInput.from_credentials({"redis_url": "redis://r:6379/2"}).redis_url == "redis://r:6379/2"
    monkeypatch.setenv("REDIS_URL", "redis://env:6379/3")
    assert WebChatInput.from_credentials(None).redis_url == "redis://env:6379/3"
    server = WebChatInput.from_credentials({"redis_channel": "kefu-x"}).make_server()
    assert type(server.manager).__name__ == "AsyncRedisManager" and server.manager.channel == "kefu-x"
    assert WebChatInput.from_credentials({}).get_output_channel() is None  # no server yet: a warning, no crash


# --------------------------------------------------------------------------
# connector: the blueprint on a real Sanic server, a python socket.io client
# --------------------------------------------------------------------------


@pytest.fixture
def state(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    channel_state = SqlChannelState(make_engine(url))
    use_channel_state(channel_state)
    yield channel_state
    use_channel_state(None)


@pytest.mark.asyncio
async def test_connector_round_trip_push_static_files_and_bad_input(state):
    Sanic.test_mode = True
    received = []

    async def on_new_message(message):  # the fake assistant answers with buttons
        if message.text == "锁超时":
            raise RuntimeError("Error while acquiring lock")  # e.g. Redis restarting
        received.append(message)
        await message.output_channel.send_text_with_buttons(
            message.sender_id, "要转人工吗？", [{"title": "转人工", "payload": "/request_human"}])

    channel = WebChatInput(redis_url=None)  # in-process rooms
    server, port = await serve_blueprint(channel.blueprint(on_new_message), "/webhooks/webchat", "webchat")
    base = f"http://127.0.0.1:{port}"
    client = socketio.AsyncClient()
    try:
        async with aiohttp.ClientSession() as http:
            for path, kind in [("/webchat/widget.js", "javascript"), ("/webchat/widget.css", "text/css"),
                               ("/webchat/socket.io.min.js", "javascript"), ("/webchat/demo", "text/html")]:
                async with http.get(base + path) as reply:
                    assert reply.status == 200 and kind in reply.headers["content-type"], path
                    body = await reply.text()
            assert f'src="{base}/webchat/widget.js"' in body and "华为Mate60 Pro" in body
            async with http.get(base + "/webchat/nothing.js") as reply:
                assert reply.status == 404

        bot, confirmed = asyncio.Queue(), asyncio.Queue()
        client.on("bot_uttered", bot.put_nowait)
        client.on("session_confirm", confirmed.put_nowait)
        await client.connect(base, transports=["polling"])
        # before a session is confirmed nothing is taken, and the page is told why
        await client.emit("user_uttered", {"message": "我要找人工", "metadata": {"lang": "zh"}})
        assert "刷新" in (await asyncio.wait_for(bot.get(), 5))["text"]
        await client.emit("session_request", {"session_token": "bad token"})
        fresh = await asyncio.wait_for(confirmed.get(), 5)
        assert fresh != "bad token" and len(fresh) == 43  # a fresh token instead
        await client.emit("session_request", {"session_token": TOKEN})
        assert await asyncio.wait_for(confirmed.get(), 5) == TOKEN

        # a session id or a trusted key in the payload decides nothing: the bound session does
        await client.emit("user_uttered", {"message": "我要找人工", "session_id": "0" * 32,
                                           "metadata": {"lang": "zh", "kefu": {"client": "forged"}}})
        reply = await asyncio.wait_for(bot.get(), 5)
        assert reply == {"text": "要转人工吗？", "quick_replies": [
            {"content_type": "text", "title": "转人工", "payload": "/request_human"}]}
        [message] = received
        assert (message.text, message.sender_id, message.input_channel) == ("我要找人工", CONVERSATION, "webchat")
        assert message.metadata == {"lang": "zh", "kefu": {"client": ids.client_key("127.0.0.1")}}

        # another page that names our session id (not our token) joins nothing
        intruder, overheard, intruder_confirmed = socketio.AsyncClient(), asyncio.Queue(), asyncio.Queue()
        intruder.on("bot_uttered", overheard.put_nowait)
        intruder.on("session_confirm", intruder_confirmed.put_nowait)
        await intruder.connect(base, transports=["polling"])
        await intruder.emit("session_request", {"session_token": SESSION})
        assert session_id_for(await asyncio.wait_for(intruder_confirmed.get(), 5)) != SESSION

        # a later push (what Rasa's API does) reaches the session's room, and only it
        output = channel.get_output_channel()
        assert isinstance(output, WebChatOutput)
        await output.send_text_message(CONVERSATION, "人工客服小王为您服务")
        await output.send_image_url(CONVERSATION, "https://img.example.com/a.png")
        assert await asyncio.wait_for(bot.get(), 5) == {"text": "人工客服小王为您服务"}
        assert (await asyncio.wait_for(bot.get(), 5))["attachment"]["payload"]["src"] == "https://img.example.com/a.png"
        # a push addressed to another channel's conversation (a forged output_channel) goes nowhere
        await output.send_text_message("telegram:10001", "钓鱼链接")
        await output.send_text_message(SESSION, "钓鱼链接")  # no channel prefix: nobody
        await asyncio.sleep(0.3)
        assert bot.empty() and overheard.empty()
        await intruder.eio.disconnect(abort=True)
        sent = [d for d in state.deliveries("webchat") if d.recipient_key == recipient_key(CONVERSATION)]
        assert len(sent) == 3 and {d.status for d in sent} == {"sent"}

        # the assistant fails: the shopper is asked to try again, not left waiting
        await client.emit("user_uttered", {"message": "锁超时", "metadata": {"lang": "zh"}})
        assert await asyncio.wait_for(bot.get(), 5) == {"text": TRY_AGAIN}

        # bad input: a polite notice for a huge or unreadable message, silence for junk; nothing reaches the assistant
        await client.emit("user_uttered", {"message": "长" * 3000, "metadata": {"lang": "zh"}})
        assert "太长" in (await asyncio.wait_for(bot.get(), 5))["text"]
        await client.emit("user_uttered", {"message": "\ud800\udfff\ud800", "metadata": {"lang": "en"}})
        assert "could not be read" in (await asyncio.wait_for(bot.get(), 5))["text"]
        for junk in ["text", {"message": ""}, {"message": "   "}, None]:
            await client.emit("user_uttered", junk)
        await asyncio.sleep(0.3)
        notices = []
        while not bot.empty():
            notices.append(bot.get_nowait())
        assert len(received) == 1 and all(n.get("notice") for n in notices)
    finally:
        # abort: a polling client would otherwise wait out its pending long-poll (25 s)
        await client.eio.disconnect(abort=True)
        server.close()


class OneThread(ThreadPoolExecutor):
    """The server's only thread for blocking calls, easy to keep busy; it
    counts the pages it was asked to record as closed (``asyncio.to_thread``
    hands it ``partial(context.run, NotifyStore.page_closed, sid)``)."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="db")
        self.closings = 0

    def submit(self, fn, /, *args, **kwargs):
        self.closings += any(getattr(a, "__name__", "") == "page_closed" for a in getattr(fn, "args", ()))
        return super().submit(fn, *args, **kwargs)


Leave = Callable[[Callable[[], Awaitable[None]]], Awaitable[None]]


async def _socket_by_polling(port: int) -> Leave:
    """A socket.io session over HTTP long-polling, as the widget speaks it;
    what it returns says goodbye ("41") and, once the server is writing the
    page's closing, drops the connection before the answer, as a browser
    does when the page leaves."""
    server, path = f"http://127.0.0.1:{port}", "/socket.io/?EIO=4&transport=polling"
    async with aiohttp.ClientSession() as http:
        async with http.get(server + path) as reply:
            sid = json.loads((await reply.text())[1:])["sid"]
        path += f"&sid={sid}"
        for packet, answer in [("40", "40"), (f'42["session_request",{{"session_token":"{TOKEN}"}}]', "42")]:
            async with http.post(server + path, data=packet) as reply:
                assert await reply.text() == "OK"
            async with http.get(server + path) as reply:
                assert (await reply.text()).startswith(answer)

    async def leave(closing_queued: Callable[[], Awaitable[None]]) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 2\r\n\r\n41".encode())
        await writer.drain()
        await closing_queued()
        writer.transport.abort()
    return leave


async def _socket_by_websocket(port: int) -> Leave:
    """The same over a websocket."""
    ws = await websockets.legacy.client.connect(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket")
    assert (await ws.recv()).startswith("0")
    await ws.send("40")
    assert (await ws.recv()).startswith("40")
    await ws.send(f'42["session_request",{{"session_token":"{TOKEN}"}}]')
    assert json.loads((await ws.recv())[2:]) == ["session_confirm", TOKEN]

    async def leave(closing_queued: Callable[[], Awaitable[None]]) -> None:
        await ws.send("41")
        await closing_queued()
        ws.transport.abort()
    return leave


@pytest.mark.asyncio
@pytest.mark.parametrize("connect", [_socket_by_polling, _socket_by_websocket])
async def test_a_page_that_leaves_is_recorded_closed_though_its_request_is_cancelled(connect, tmp_path, monkeypatch):
    """Order news waits while no page is open. socket.io handles a goodbye
    inside the request (or websocket) that brought it, and Sanic cancels
    that request's task when its connection drops, as it does when a page
    leaves: the closing must be written all the same (it was lost whenever
    the database's thread was still busy at that moment)."""
    Sanic.test_mode = True
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate(url)
    monkeypatch.setenv("DATABASE_URL", url)
    notify_store.cache_clear()
    notify = NotifyStore(make_engine(url))
    loop = asyncio.get_running_loop()
    executor = OneThread()
    loop.set_default_executor(executor)

    async def on_new_message(message):  # not reached
        raise AssertionError(message.text)

    async def page_open(want: bool) -> bool:
        for _ in range(100):
            if await asyncio.to_thread(notify.page_open, CONVERSATION) == want:
                break
            await asyncio.sleep(0.05)
        return await asyncio.to_thread(notify.page_open, CONVERSATION)

    channel = WebChatInput(redis_url=None)
    server, port = await serve_blueprint(channel.blueprint(on_new_message), "/webhooks/webchat", "webchat")
    busy = threading.Event()
    try:
        leave = await connect(port)
        assert await page_open(True)
        held = loop.run_in_executor(None, busy.wait, 30)  # the database's thread is busy when the page leaves
        before = executor.closings

        async def closing_queued() -> None:
            for _ in range(200):
                if executor.closings > before:
                    return
                await asyncio.sleep(0.01)
            raise AssertionError("the server did not start recording the page as closed")

        await leave(closing_queued)
        busy.set()
        await held
        assert not await page_open(False), "the page left but is still recorded as open"
    finally:
        busy.set()
        server.close()
        notify_store.cache_clear()


@pytest.mark.asyncio
async def test_a_websocket_refuses_an_oversized_packet_and_a_message_before_its_session(state):
    """The websocket, now that it works on Python 3.11, keeps the limits
    long-polling had: a packet over MAX_PACKET_BYTES closes the socket before
    anything reaches the assistant; a message before a session gets a notice."""
    Sanic.test_mode = True
    received = []

    async def on_new_message(message):
        received.append(message)

    channel = WebChatInput(redis_url=None)
    server, port = await serve_blueprint(channel.blueprint(on_new_message), "/webhooks/webchat", "webchat")
    url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    try:
        async with websockets.legacy.client.connect(url, max_size=None) as ws:
            await ws.recv()
            await ws.send("40")
            await ws.recv()
            await ws.send(json.dumps(["user_uttered", {"message": "我要找人工"}]).join(("42", "")))
            assert "刷新" in json.loads((await asyncio.wait_for(ws.recv(), 5))[2:])[1]["text"]
            await ws.send("42" + json.dumps(["user_uttered", {"message": "长" * MAX_PACKET_BYTES}]))
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
        async with websockets.legacy.client.connect(url) as ws:  # the server still serves the next page
            assert (await ws.recv()).startswith("0")
        assert received == []
    finally:
        server.close()


# --------------------------------------------------------------------------
# the real widget in Chromium against Kefu's servers
# --------------------------------------------------------------------------

CREDENTIALS = """channels.rest.ReliableRestInput:
channels.webchat.WebChatInput:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
{extra}"""


def _start(workdir: Path, tracker_db: Path, shop_url: str, extra: str = "", env: dict | None = None):
    return start_kefu(workdir, shop_url, CREDENTIALS.format(extra=extra), env={"REDIS_URL": "", **(env or {})},
                      tracker_db=tracker_db, api=True)


def _redis_url() -> tuple:
    """(url, None) when the test Redis answers, else (None, why not)."""
    url = os.environ.get("KEFU_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as error:
        return None, f"no Redis at {url} ({type(error).__name__})"
    return url, None


@pytest.fixture(scope="module")
def cluster(shop_url, tmp_path_factory):
    """Kefu with the webchat channel. With Redis: two server pairs (A, B) on
    one tracker store sharing socket.io rooms through Redis, started side by
    side (loading the model dominates the time); every browser test talks to
    A, the multi-process test pushes through B. Without Redis: A alone with
    in-process rooms, as `make run` on a laptop."""
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train`")
    workdir = tmp_path_factory.mktemp("webchat")
    redis_url, why_not = _redis_url()
    extra, env = "", {}
    if redis_url:
        channel = f"kefu-webchat-test-{uuid.uuid4().hex[:8]}"  # pub/sub ignores the db number
        extra = f"  redis_url: ${{REDIS_URL}}\n  redis_channel: {channel}\n"
        env = {"REDIS_URL": redis_url}
    names = ("a", "b") if redis_url else ("a",)
    started: dict = {}

    def start(name: str) -> None:
        try:
            started[name] = _start(workdir / name, workdir / "tracker.db", shop_url, extra, env)
        except BaseException as error:
            started[name] = error

    threads = [threading.Thread(target=start, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    running = [servers for servers in started.values() if not isinstance(servers, BaseException)]
    try:
        for name in names:
            if isinstance(started[name], BaseException):
                raise started[name]
        yield {"a": started["a"], "b": started.get("b"), "redis": redis_url, "why_not": why_not}
    finally:
        for servers in running:
            servers.stop()


@pytest.fixture(scope="module")
def web(cluster):
    return cluster["a"]


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    playwright = playwright_api.sync_playwright().start()
    chromium = launch_chromium(playwright)
    yield chromium
    chromium.close()
    playwright.stop()


def _open_widget(browser, url: str, **context_options):
    from playwright.sync_api import expect

    context = browser.new_context(**context_options)
    page = context.new_page()
    page.goto(url)
    page.click(".kefu-wc-launcher")
    expect(page.locator(".kefu-wc-panel")).to_be_visible()
    expect(page.locator("#kefu-webchat")).to_have_attribute("data-connection", "online", timeout=10000)
    return context, page


def _say(page, text: str, expect_text: str, timeout: float = 30000) -> None:
    """Type like a shopper; the typing indicator shows at once; wait for the answer."""
    from playwright.sync_api import expect

    page.fill(".kefu-wc-input", text)
    typing_shown = page.evaluate(
        "() => { document.querySelector('.kefu-wc-send').click();"
        " return !document.querySelector('.kefu-wc-typing').hidden; }")
    assert typing_shown
    expect(page.locator(".kefu-wc-bot .kefu-wc-bubble", has_text=expect_text).last).to_be_visible(timeout=timeout)
    expect(page.locator(".kefu-wc-typing")).to_be_hidden()


def _session_id(page) -> str:
    """The page's conversation, as the server derives it from the page's token."""
    return f"web:{session_id_for(page.evaluate('() => window.KefuWebchat.sessionToken()'))}"


def _push(rasa_url: str, session_id: str, action: str) -> None:
    """An agent-side push through Rasa's API. The page sees the bot's answer
    before Rasa saves the turn, so wait until this server reads the finished
    turn from the (shared) tracker store first."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        tracker = rasa_api().get(f"{rasa_url}/conversations/{session_id}/tracker", timeout=10)
        events = tracker.json().get("events") or [] if tracker.status_code == 200 else []
        users = [i for i, e in enumerate(events) if e.get("event") == "user"]
        if users and any(e.get("name") == "action_listen" for e in events[users[-1]:]):
            break  # the shopper's last turn is saved
        time.sleep(0.2)
    reply = rasa_api().post(f"{rasa_url}/conversations/{session_id}/execute",
                            params={"output_channel": "latest"}, json={"name": action}, timeout=30)
    assert reply.status_code == 200, reply.text


@pytest.mark.e2e
def test_order_lookup_history_after_reload_and_quick_replies(web, browser, shop_url):
    from playwright.sync_api import expect

    context, page = _open_widget(browser, f"{web.rasa_url}/webchat/demo")
    try:
        expect(page.locator(".kefu-wc-title")).to_have_text("在线客服")
        _say(page, f"帮我查下订单{SHIPPED}", "后4位")
        _say(page, "5678", "运输中")
        page.wait_for_function(  # the answer to "5678" (one or more bubbles) names the order
            """id => { const rows = [...document.querySelectorAll('.kefu-wc-row')];
                      const after = rows.slice(rows.findLastIndex(r => r.classList.contains('kefu-wc-user')) + 1);
                      return after.map(r => r.textContent).join(' ').includes(id); }""",
            arg=SHIPPED, timeout=10000)

        page.reload()  # the panel comes back open with the whole conversation
        expect(page.locator(".kefu-wc-panel")).to_be_visible()
        expect(page.locator(".kefu-wc-user .kefu-wc-bubble", has_text="5678")).to_be_visible()
        expect(page.locator(".kefu-wc-bot .kefu-wc-bubble", has_text="运输中")).to_be_visible()
        expect(page.locator("#kefu-webchat")).to_have_attribute("data-connection", "online", timeout=10000)

        _say(page, "今天天气怎么样", "回答不了")  # utter_out_of_scope comes with buttons
        page.locator(".kefu-wc-reply", has_text="转人工").click()
        # the title, not /request_human
        expect(page.locator(".kefu-wc-user .kefu-wc-bubble").last).to_have_text("转人工")
        expect(page.locator(".kefu-wc-reply", has_text="退换货")).to_have_count(0)  # spent
        # ... and the payload is what reached the assistant (what it answers is the handoff's business)
        deadline = time.monotonic() + 15
        while True:
            tracker = rasa_api().get(f"{web.rasa_url}/conversations/{_session_id(page)}/tracker", timeout=10).json()
            latest = tracker["latest_message"]
            if latest.get("text") == "/request_human" or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert latest["text"] == "/request_human" and latest["intent"]["name"] == "request_human"
        assert tracker["latest_input_channel"] == "webchat"
        assert "/request_human" not in page.locator(".kefu-wc-log").inner_text()
    finally:
        context.close()
    sent = SqlChannelState(make_engine(shop_url)).deliveries("webchat")
    assert sent and all(d.status == "sent" for d in sent)


@pytest.mark.e2e
def test_hostile_text_stays_text_links_and_images_render(web, browser):
    from playwright.sync_api import expect

    context, page = _open_widget(browser, f"{web.rasa_url}/webchat/demo")
    try:
        _say(page, '<img src=x onerror="window.pwned=1">你好', "")
        page.evaluate("""() => {
          const deliver = window.KefuWebchat.socket().listeners('bot_uttered')[0];
          deliver({text: '<b onmouseover=alert(1)>物流</b> 详情见 https://shop.example.com/t?id=1&x=2 \
。 javascript:alert(1)'});
          deliver({attachment: {type: 'image', payload: {src: 'https://img.example.com/p.png'}}});
          deliver({attachment: {type: 'image', payload: {src: 'javascript:alert(1)'}}});
        }""")
        link = page.locator(".kefu-wc-link", has_text="shop.example.com")
        expect(link).to_have_attribute("href", "https://shop.example.com/t?id=1&x=2")
        expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
        expect(page.locator(".kefu-wc-bubble", has_text="<b onmouseover=alert(1)>物流</b>")).to_be_visible()
        expect(page.locator(".kefu-wc-user .kefu-wc-bubble", has_text="<img src=x")).to_be_visible()
        assert page.locator(".kefu-wc-log b, .kefu-wc-log [onerror], .kefu-wc-log [onmouseover]").count() == 0
        assert page.locator(".kefu-wc-link").count() == 1  # javascript: is never a link
        images = page.locator(".kefu-wc-image")
        expect(images).to_have_count(1)
        expect(images).to_have_attribute("src", "https://img.example.com/p.png")
        assert page.evaluate("() => window.pwned === undefined")
    finally:
        context.close()


@pytest.mark.e2e
def test_english_ui_and_phone_layout(web, browser):
    from playwright.sync_api import expect

    context, page = _open_widget(browser, f"{web.rasa_url}/webchat/demo?lang=en",
                                 viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    try:
        expect(page.locator(".kefu-wc-title")).to_have_text("Customer service")
        expect(page.locator(".kefu-wc-input")).to_have_attribute("placeholder", "Type your question…")
        expect(page.locator(".kefu-wc-send")).to_have_text("Send")
        box = page.locator(".kefu-wc-panel").bounding_box()
        assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 375, 667)
        _say(page, f"where is my order {SHIPPED}?", "last 4 digits")
        page.click(".kefu-wc-close")
        expect(page.locator(".kefu-wc-launcher")).to_have_text("💬Chat with us")
    finally:
        context.close()
    context, page = _open_widget(browser, f"{web.rasa_url}/webchat/demo", viewport={"width": 1280, "height": 800})
    try:  # on a desktop it is a floating panel, not full screen
        box = page.locator(".kefu-wc-panel").bounding_box()
        assert box["width"] == 360 and box["x"] > 800
    finally:
        context.close()


@pytest.mark.e2e
def test_push_through_rasa_api_and_after_a_dropped_connection(web, browser):
    from playwright.sync_api import expect

    context, page = _open_widget(browser, f"{web.rasa_url}/webchat/demo")
    try:
        _say(page, "你好", "小客")
        session_id = _session_id(page)
        _push(web.rasa_url, session_id, "utter_handoff")
        expect(page.locator(".kefu-wc-bot .kefu-wc-bubble",
                            has_text="正在为您转接人工客服")).to_be_visible(timeout=10000)

        page.evaluate("() => window.KefuWebchat.socket().io.engine.close()")  # the network drops
        expect(page.locator(".kefu-wc-offline")).to_be_visible(timeout=5000)
        expect(page.locator(".kefu-wc-offline")).to_have_text("网络连接已断开，正在重新连接…")
        expect(page.locator(".kefu-wc-offline")).to_be_hidden(timeout=15000)
        assert _session_id(page) == session_id
        _push(web.rasa_url, session_id, "utter_anything_else")  # the page rejoined its room
        expect(page.locator(".kefu-wc-bot .kefu-wc-bubble",
                            has_text="还有什么可以帮您的吗")).to_be_visible(timeout=10000)
    finally:
        context.close()


@pytest.mark.e2e
def test_push_through_another_server_process_reaches_the_page(cluster, browser):
    """Two Rasa processes, one tracker store, one Redis: the page talks to A,
    an agent's reply goes in through B's API and still reaches the page."""
    from playwright.sync_api import expect

    if cluster["b"] is None:
        if IN_CI:
            pytest.fail(f"Redis must be reachable under CI: {cluster['why_not']}")
        pytest.skip(f"{cluster['why_not']} on this machine: multi-process push not tested")
    a, b = cluster["a"], cluster["b"]
    for servers in (a, b):
        assert requests.get(f"{servers.rasa_url}/webhooks/webchat/", timeout=5).json() == {"status": "ok",
                                                                                          "redis": True}
    context, page = _open_widget(browser, f"{a.rasa_url}/webchat/demo")
    try:
        _say(page, "你好", "小客")
        _push(b.rasa_url, _session_id(page), "utter_handoff")
        expect(page.locator(".kefu-wc-bot .kefu-wc-bubble",
                            has_text="正在为您转接人工客服")).to_be_visible(timeout=10000)
    finally:
        context.close()

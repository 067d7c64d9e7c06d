"""The web chat widget's channel: Rasa's socket.io protocol, made to work
with several server processes, plus the widget's static files.

Why a subclass of Rasa's ``SocketIOInput``:

* Rasa's output channel emits to a socket.io room inside ONE process. A
  message pushed later (a human agent's reply through
  ``POST /conversations/<id>/execute?output_channel=latest``) may land on
  another process than the one holding the shopper's connection. With a
  ``redis_url`` the socket.io server gets an ``AsyncRedisManager``: an emit in
  any process is published on Redis and delivered by the process that holds
  the page. Without Redis everything stays in-process (``make run``).
* Sessions are the server's, not the page's. On ``session_request`` the
  page shows the token the server gave it before (or none) and the server
  answers with a token: the same one, or a fresh unguessable one. The
  session id is an HMAC of the token under the widget key, so it can be
  derived but not guessed, and naming someone else's session id joins
  nothing. The socket is bound to that session; a ``user_uttered`` speaks
  for the bound session only (a ``session_id`` in the payload is ignored)
  and is refused before a session was confirmed. Bot messages go to the
  room of the session, which only the server can enter. Neither tokens nor
  session ids are logged (a keyed hash is). Rasa 3.6 calls the coroutine
  ``AsyncServer.enter_room`` without awaiting it (python-socketio >= 5.10);
  this channel awaits it.
* Bad input (not a dict, empty, oversized, invalid Unicode) is answered
  politely or dropped, never reaches the conversation.
* A message the assistant fails to process (e.g. its conversation lock
  could not be taken) is answered "please try again"
  (:func:`channels.rest.answering_failures`), not dropped in silence.

The widget (``channels/web/widget.js``, ``widget.css``), the socket.io client
and a demo shop page are served from ``/webchat/`` by the same server, so a
shop embeds the assistant with one ``<script>`` tag.

Wire format (socket.io events, JSON):

* client -> server ``session_request`` ``{"session_token": "<token>"|null}``;
  server -> client ``session_confirm`` ``"<session token>"``.
* client -> server ``user_uttered`` ``{"message": "...", "metadata": {...}}``.
* server -> client ``bot_uttered``: ``{"text": "..."}``,
  ``{"text": "...", "quick_replies": [{"content_type": "text", "title": ..,
  "payload": ..}]}``, ``{"attachment": {"type": "image", "payload":
  {"src": url}}}``, ``{"attachment": {...}}``, ``{"custom": {...}}``.

Photos (HTTP, beside the socket; socket.io packets stay small):

* ``POST /webhooks/webchat/photo``, the body is the image itself
  (``Content-Type: image/...``), headers ``X-Kefu-Session: <session token>``
  (the one of ``session_confirm``: the session is derived from it, never
  named by the request), ``X-Kefu-Language: zh|en`` (optional: the language
  of a refusal; both without it) and, with a ``jwt_key``,
  ``Authorization: Bearer <jwt>``. The body is streamed and read no further
  than the intake's limit (Sanic's own cap is lifted for this route only).
  The photo goes through the evidence intake (:mod:`kefu.evidence.intake`),
  then Rasa hears ``/send_photo`` for the session and its answer comes as a
  ``bot_uttered`` on the socket.
* ``200 {"ok": true, "photos": <waiting in the conversation>, "duplicate":
  bool}``; refused: ``{"error": reason, "text": polite text}`` with 400
  ``empty``, 401 ``no_session``, 403 ``origin``, 413 ``too_big``, 415
  ``not_image`` (a type that is not ``image/*``, or bytes that are no
  photo), 429 ``too_many``, 503 ``unavailable``.
* CORS: a shop page of an origin in ``cors_allowed_origins`` (the socket's
  list; unset: Kefu's own origin only) gets ``Access-Control-Allow-Origin``
  with its exact origin and its preflight answered; a request from any other
  origin is refused 403. Rasa's app answers every ``OPTIONS`` request itself
  (Sanic-CORS, for its API's origins), so the photo route's preflight is put
  before it.

The service record (HTTP, for the widget's 📋 panel; docs/service-record.md):

* ``GET /webhooks/webchat/record``, headers ``X-Kefu-Session`` (as above),
  optionally ``X-Kefu-Language`` and ``If-None-Match: "<version>"``. The
  proof it needs is read from the session's tracker in Rasa's own tracker
  store; :mod:`kefu.record.owner` decides whose record that is.
* ``200 {"proven": true, "version", "title", "sections", "empty",
  "refresh_seconds"}`` with ``ETag``; ``304`` while the page's version is
  the record's; ``200 {"proven": false, "title", "text", "button"}`` for a
  session that proved nothing; 401 ``no_session``, 403 ``origin``, 503
  ``unavailable``. CORS as for photos.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Coroutine, Dict, Iterable, List, Mapping, Optional, Set, Text

import rasa.core.channels.channel
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from channels import sanic_websocket
from channels.delivery import send_with_retry
from channels.edge import answering_failures, user_message
from kefu.core import ids, responses, text
from kefu.core.config import load_settings
from kefu.core.privacy import redact
from kefu.core.secrets import secret
from kefu.evidence.intake import PHOTO_TEXT, Received, Refused, intake, refusal
from kefu.notify import notify_store
from kefu.record.service import panel_for

logger = logging.getLogger(__name__)

CHANNEL = "webchat"
WEB_DIR = Path(__file__).resolve().parent / "web"
#: the longest user message handed to the assistant; the widget stops at 1000
MAX_MESSAGE_CHARS = text.MAX_MESSAGE_CHARS
#: the largest socket.io packet accepted at all (engine.io rejects bigger ones)
MAX_PACKET_BYTES = 64 * 1024
#: metadata passed on to Rasa must stay small: it is stored with every event
MAX_METADATA_BYTES = 2048
SESSION_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
LANGUAGES = ("zh", "en")

#: files served under the static prefix: URL name -> (file, content type)
STATIC_FILES: Dict[str, tuple] = {
    "widget.js": ("widget.js", "application/javascript; charset=utf-8"),
    "widget.css": ("widget.css", "text/css; charset=utf-8"),
    "socket.io.min.js": ("socket.io.min.js", "application/javascript; charset=utf-8"),
}

#: the photo upload, under the channel's ``/webhooks/webchat`` prefix
PHOTO_PATH = "/photo"
#: the shopper's service record for the widget's panel (kefu/record/)
RECORD_PATH = "/record"
#: what the widget's HTTP calls (photo upload, service record) may send across origins
WIDGET_HEADERS = ("X-Kefu-Session", "X-Kefu-Language", "Content-Type", "Authorization", "If-None-Match")
#: how long a browser may keep the answer to a preflight
PREFLIGHT_MAX_AGE = 600
#: the HTTP status of a refused photo, by the reason
PHOTO_STATUS = {
    "empty": 400,
    "no_session": 401,
    "origin": 403,
    "too_big": 413,
    "not_image": 415,
    "too_many": 429,
    "unavailable": 503,
}
#: Sanic-CORS (Rasa's app) skips a response whose request carries this
#: mark: the photo route sets its own CORS headers, and two
#: ``Access-Control-Allow-Origin`` headers make a browser refuse both
SANIC_CORS_DONE = "_sanic_cors_e"

#: the polite answer to a rejected message, by the reason (a response of domain.yml)
NOTICES = {
    "too_long": "utter_notice_too_long_limit",
    "malformed": "utter_notice_unreadable",
    "no_session": "utter_notice_session_reset",
}


# --------------------------------------------------------------------------
# wire format: pure functions
# --------------------------------------------------------------------------


class BadMessage(ValueError):
    """A ``user_uttered`` payload that must not reach the conversation;
    ``reason`` says which (``malformed``, ``empty``, ``too_long``,
    ``no_session``)."""

    def __init__(self, reason: str, language: str = "zh") -> None:
        super().__init__(reason)
        self.reason = reason
        self.language = language


@dataclass(frozen=True)
class IncomingMessage:
    text: str
    metadata: Dict[str, Any] = field(default_factory=dict)
    language: str = "zh"


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def valid_session_token(value: Any) -> bool:
    return isinstance(value, str) and bool(SESSION_TOKEN.match(value))


def session_id_for(token: str) -> str:
    """The session (and room, and conversation) a token stands for: derived
    with the widget key, so knowing a session id gives no way into it."""
    return hmac.new(secret("widget_key").encode("ascii"), token.encode("ascii"), hashlib.sha256).hexdigest()[:32]


def parse_session_request(data: Any) -> str:
    """The token a page shows to rejoin its session, or a fresh one when it
    has none or sends something that is not a token of ours."""
    if isinstance(data, dict) and valid_session_token(data.get("session_token")):
        return data["session_token"]
    return new_session_token()


def parse_metadata(raw: Any) -> Dict[str, Any]:
    """The widget's metadata (a dict or its JSON text), dropped when it is
    not a small JSON object."""
    if isinstance(raw, str):
        if len(raw) > MAX_METADATA_BYTES:
            return {}
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    if not isinstance(raw, dict):
        return {}
    try:
        if len(json.dumps(raw, ensure_ascii=False)) > MAX_METADATA_BYTES:
            return {}
    except (TypeError, ValueError):
        return {}
    return raw


def parse_user_message(data: Any, *, metadata_key: str = "metadata",
                       max_chars: int = MAX_MESSAGE_CHARS) -> IncomingMessage:
    """A ``user_uttered`` payload as the text to hand to Rasa; raises
    :class:`BadMessage` for anything that must not get there."""
    if not isinstance(data, dict):
        raise BadMessage("malformed")
    metadata = parse_metadata(data.get(metadata_key, {}))
    language = str(metadata["lang"]) if metadata.get("lang") in LANGUAGES else "zh"
    try:
        cleaned = text.clean(data.get("message"), max_chars)
    except text.BadText as bad:
        raise BadMessage("malformed" if bad.reason == "invalid" else bad.reason, language) from None
    return IncomingMessage(cleaned, metadata, language)


def allowed_origins(configured: Any) -> Optional[List[str]]:
    """The page origins allowed to open the widget's socket: the configured
    ones (a list or comma-separated text), else None, which engine.io takes
    as "the server's own origin only"."""
    if isinstance(configured, str):
        configured = [o.strip() for o in configured.split(",") if o.strip()]
    return list(configured) if configured else None


def render_notice(reason: str, language: str, limit: int = MAX_MESSAGE_CHARS) -> Optional[Dict[str, Any]]:
    """The polite answer to a rejected message (None: drop it silently)."""
    name = NOTICES.get(reason)
    if name is None:
        return None
    return {"text": responses.text(name, language, limit=limit), "notice": True}


def render_text(text: str) -> List[Dict[str, Any]]:
    """One bubble per paragraph, as Rasa's own socket.io channel does."""
    parts = [part for part in text.strip().split("\n\n") if part.strip()]
    return [{"text": part} for part in parts] or [{"text": text}]


def render_buttons(text: str, buttons: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Text bubbles with the buttons as quick replies on the last one; the
    widget sends a clicked button's payload and shows its title."""
    messages = render_text(text)
    messages[-1]["quick_replies"] = [
        {"content_type": "text", "title": str(button.get("title", "")), "payload": str(button.get("payload", ""))}
        for button in buttons
        if button.get("payload") or button.get("title")
    ]
    return messages


def render_image(url: str) -> Dict[str, Any]:
    return {"attachment": {"type": "image", "payload": {"src": url}}}


def render_attachment(attachment: Any) -> Dict[str, Any]:
    """An attachment as Rasa sends it; a bare URL string becomes an image
    when it looks like one, a link otherwise."""
    if isinstance(attachment, str):
        if re.search(r"\.(png|jpe?g|gif|webp)(\?|$)", attachment, re.IGNORECASE):
            return render_image(attachment)
        return {"text": attachment}
    return {"attachment": attachment}


def render_elements(elements: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [
        {"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": element}}}
        for element in elements
    ]


def render_custom(json_message: Dict[str, Any]) -> Dict[str, Any]:
    """Custom payloads keep their shape under ``custom``; the widget shows
    the ``text`` in it, if any."""
    return {"custom": json_message}


def render_demo_page(template: str, server: str, language: str) -> str:
    """The demo shop with the widget's one script tag pointing at this
    server (both values escaped: the host comes from a request header)."""
    language = language if language in LANGUAGES else "zh"
    return (template.replace("__KEFU_SERVER__", html.escape(server, quote=True))
            .replace("__KEFU_LANG__", language))


#: a page event the database refused (a busy SQLite file, a failover) is
#: tried again: a closed page left recorded as open would send news to an
#: empty room, where nobody reads it
PAGE_EVENT_RETRIES = (0.5, 2.0, 5.0)


async def _page_event(record: Callable[..., Any], *args: str) -> None:
    """Tell the order-news outbox a page opened or closed; its database
    being away must not stop the chat."""
    for wait in (*PAGE_EVENT_RETRIES, None):
        try:
            await asyncio.to_thread(record, *args)
            return
        except Exception:
            if wait is None:
                logger.exception("webchat: could not record an open or closed page")
                return
            logger.warning("webchat: recording an open or closed page failed; trying again in %.1f s", wait)
            await asyncio.sleep(wait)


async def _page_left(sid: str, opening: Optional[asyncio.Future]) -> None:
    """Record the socket's page as closed, after its opening if that is
    still being written (socket.io runs each event in its own task): closed
    first, the opening would stay, and news would wait for nobody."""
    if opening is not None:
        await asyncio.wait({opening})
    await _page_event(notify_store().page_closed, sid)


def session_hash(session_id: str) -> str:
    """A session fit for logs: a keyed hash, never the id or the token."""
    return ids.for_log(f"{ids.WEB}:{session_id}")


# --------------------------------------------------------------------------
# photo upload: pure functions
# --------------------------------------------------------------------------


#: how often an open record panel asks again (a 304 while nothing changed)
RECORD_REFRESH_SECONDS = 5


async def conversation_slots(request: Request, conversation_id: str) -> Dict[str, Any]:
    """The slots of the conversation's tracker, from Rasa's own tracker
    store (the proof the record needs lives there); none for a session
    that never spoke."""
    agent = getattr(request.app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        raise RuntimeError("no tracker store in this server")
    tracker = await agent.tracker_store.retrieve(conversation_id)
    return dict(tracker.current_slot_values()) if tracker is not None else {}


def record_language(slots: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The conversation's language, else the page's (``X-Kefu-Language``)."""
    if slots.get("language") in LANGUAGES:
        return str(slots["language"])
    return photo_language(headers) or "zh"


class PhotoRefused(Exception):
    """A photo upload answered with an error; ``reason`` is a key of
    :data:`PHOTO_STATUS`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def photo_language(headers: Mapping[str, str]) -> Optional[str]:
    """The page's language for a refusal; None (both languages) when the
    page did not say."""
    wanted = (headers.get("X-Kefu-Language") or "").strip().lower()
    return wanted if wanted in LANGUAGES else None


def is_image_type(content_type: Optional[str]) -> bool:
    """Whether the declared type is an image at all; the bytes themselves
    are checked by the intake, whatever is declared."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.startswith("image/") and len(media) > len("image/")


def declared_length(headers: Mapping[str, str]) -> Optional[int]:
    """The body's length as the client declares it (None: not declared,
    e.g. chunked)."""
    value = (headers.get("Content-Length") or "").strip()
    return int(value) if value.isdigit() else None


def own_origins(scheme: str, host: str, headers: Mapping[str, str]) -> List[str]:
    """Kefu's own origin as the page sees it, as engine.io works it out for
    the socket when no origins are configured (a proxy's forwarded scheme
    and host count too)."""
    origins = [f"{scheme}://{host}"]
    if headers.get("X-Forwarded-Proto") or headers.get("X-Forwarded-Host"):
        forwarded_scheme = (headers.get("X-Forwarded-Proto") or scheme).split(",")[0].strip()
        forwarded_host = (headers.get("X-Forwarded-Host") or host).split(",")[0].strip()
        origins.append(f"{forwarded_scheme}://{forwarded_host}")
    return origins


def origin_allowed(origin: str, configured: Optional[List[str]], own: Iterable[str]) -> bool:
    """Whether a page of ``origin`` may upload: one of the configured shop
    pages, else (none configured) Kefu's own pages only, the rule the
    socket follows."""
    allowed = configured if configured is not None else list(own)
    return "*" in allowed or origin.lower() in {o.lower().rstrip("/") for o in allowed}


def cors_headers(origin: Optional[str], preflight: bool = False) -> Dict[str, str]:
    """The CORS headers for an allowed ``origin`` (none without one): the
    exact origin, never ``*``, and no credentials (the token is a header)."""
    if not origin:
        return {}
    headers = {"Access-Control-Allow-Origin": origin}
    if preflight:
        headers.update({
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": ", ".join(WIDGET_HEADERS),
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
        })
    return headers


def photo_refusal_text(reason: str, max_bytes: int, language: Optional[str]) -> str:
    """The polite text of a refused upload: the intake's for a photo it
    refused, the socket's "reload the page" without a session."""
    if reason == "no_session":
        return (responses.text(NOTICES["no_session"], language) if language
                else responses.both(NOTICES["no_session"]))
    return refusal({"empty": "not_image", "origin": "unavailable"}.get(reason, reason), max_bytes, language)


def photo_limit() -> int:
    """The largest photo taken: the intake's, or the settings' when the
    intake cannot be built now (the upload is then refused ``unavailable``)."""
    try:
        return intake().max_bytes
    except Exception:
        return load_settings().evidence.max_bytes


async def read_capped(request: Request, limit: int) -> bytes:
    """The body of a streamed request, refused ``too_big`` as soon as it
    is known to be larger than ``limit``: from its declared length before
    a byte is read, or after ``limit + 1`` bytes; never more is kept."""
    declared = declared_length(request.headers)
    if declared is not None and declared > limit:
        raise PhotoRefused("too_big")
    body, stream = bytearray(), request.stream
    while stream is not None:
        chunk = await stream.read()
        if chunk is None:
            return bytes(body)
        body += chunk[: limit + 1 - len(body)]
        if len(body) > limit:
            raise PhotoRefused("too_big")
    return bytes(body)


def stop_reading(request: Request) -> None:
    """After an oversized body was refused: close the connection rather
    than let Sanic read the rest of the body to keep it open."""
    stream = request.stream
    if stream is not None:
        stream.keep_alive = False
        stream.request_max_size = 0


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------


class WebChatOutput(SocketIOOutput):
    """Emits bot messages to the room of the conversation's session. It only
    needs the process's ``AsyncServer``: usable outside a request, and with a
    Redis client manager the room may be held by any process. It sends only
    to ``web:`` conversations: a forged ``output_channel`` cannot make it
    speak into another channel's conversation."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    def __init__(self, sio: AsyncServer, bot_message_evt: Text = "bot_uttered",
                 namespace: Optional[Text] = None) -> None:
        super().__init__(sio, bot_message_evt)
        self.namespace = namespace

    async def _send_message(self, recipient_id: Text, response: Any) -> None:
        try:
            room = ids.native_recipient(ids.WEB, recipient_id)
        except ids.ForeignRecipient as refused:
            logger.warning("webchat: %s", refused)
            return

        async def send() -> None:
            await self.sio.emit(self.bot_message_evt, response, room=room, namespace=self.namespace)

        await send_with_retry(send, channel=CHANNEL, recipient=recipient_id)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        for message in render_text(text):
            await self._send_message(recipient_id, message)

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        for message in render_buttons(text, buttons):
            await self._send_message(recipient_id, message)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._send_message(recipient_id, render_image(image))

    async def send_attachment(self, recipient_id: Text, attachment: Any, **kwargs: Any) -> None:
        await self._send_message(recipient_id, render_attachment(attachment))

    async def send_elements(self, recipient_id: Text, elements: Iterable[Dict[Text, Any]], **kwargs: Any) -> None:
        for message in render_elements(elements):
            await self._send_message(recipient_id, message)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        await self._send_message(recipient_id, render_custom(json_message))


# --------------------------------------------------------------------------
# input
# --------------------------------------------------------------------------


class WebChatBlueprint(SocketBlueprint):
    """Attaches socket.io to the app and also registers the widget's static
    routes, which live outside the channel's ``/webhooks/webchat`` prefix."""

    def __init__(self, sio: AsyncServer, socketio_path: Text, static: Blueprint, *args: Any, **kwargs: Any) -> None:
        super().__init__(sio, socketio_path, *args, **kwargs)
        self.ctx.static = static

    def register(self, app: Sanic, options: Dict[Text, Any]) -> None:
        super().register(app, options)
        if self.ctx.static.name not in app.blueprints:
            app.blueprint(self.ctx.static)
        preflight = getattr(self.ctx, "preflight", None)
        if preflight is not None:
            prefix = (options.get("url_prefix") or self.url_prefix or "").rstrip("/")
            for path in (PHOTO_PATH, RECORD_PATH):
                answer_preflight_first(app, prefix + path, preflight)


def answer_preflight_first(app: Sanic, path: str, preflight: Callable[[Request], HTTPResponse]) -> None:
    """Answer the preflight of ``path`` before any other request
    middleware: Rasa's Sanic-CORS answers every ``OPTIONS`` request first,
    with its API's origins, which would leave shop pages unable to upload.
    Put first when the server starts, after Sanic-CORS has put itself first."""

    async def widget_preflight(request: Request) -> Optional[HTTPResponse]:
        if request.method == "OPTIONS" and request.path == path:
            return preflight(request)
        return None

    async def put_first(started: Sanic, _loop: Any) -> None:
        if widget_preflight not in started.request_middleware:
            started.request_middleware.appendleft(widget_preflight)

    app.register_listener(put_first, "before_server_start")


def static_blueprint(prefix: str = "/webchat") -> Blueprint:
    """``GET <prefix>/widget.js``, ``widget.css``, ``socket.io.min.js`` and
    ``<prefix>/demo`` (the demo shop; ``?lang=en`` for the English UI)."""
    static = Blueprint("webchat_static", url_prefix=prefix)

    def make_handler(filename: str, content_type: str) -> Callable[[Request], Coroutine[Any, Any, HTTPResponse]]:
        async def serve(_: Request) -> HTTPResponse:
            return await response.file(
                WEB_DIR / filename, mime_type=content_type, headers={"Cache-Control": "public, max-age=300"}
            )

        serve.__name__ = "webchat_" + re.sub(r"\W", "_", filename)
        return serve

    for url_name, (filename, content_type) in STATIC_FILES.items():
        static.add_route(make_handler(filename, content_type), f"/{url_name}", methods=["GET"])

    @static.route("/demo", methods=["GET"])
    async def demo(request: Request) -> HTTPResponse:
        template = (WEB_DIR / "demo-shop.html").read_text(encoding="utf-8")
        server = f"{request.scheme}://{request.host}"
        page = render_demo_page(template, server, request.args.get("lang", "zh"))
        return response.html(page)

    return static


class WebChatInput(SocketIOInput):
    """Rasa's socket.io channel for the web widget, multi-process capable.

    Credentials (all optional): ``user_message_evt``, ``bot_message_evt``,
    ``socketio_path``, ``namespace``, ``jwt_key``, ``jwt_method``,
    ``metadata_key``, ``redis_url`` (default: the ``REDIS_URL`` environment
    variable; unset = in-process), ``redis_channel``,
    ``cors_allowed_origins`` (the shop pages that embed the widget, comma
    separated; default: only pages served by Kefu itself), ``static_prefix``,
    ``max_message_chars``."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        redis_url = credentials.get("redis_url")
        if not redis_url:
            redis_url = load_settings().redis_url
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            namespace=credentials.get("namespace"),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            jwt_key=credentials.get("jwt_key"),
            jwt_method=credentials.get("jwt_method", "HS256"),
            metadata_key=credentials.get("metadata_key", "metadata"),
            redis_url=redis_url or None,
            redis_channel=credentials.get("redis_channel", "kefu-webchat"),
            cors_allowed_origins=credentials.get("cors_allowed_origins"),
            static_prefix=credentials.get("static_prefix", "/webchat"),
            max_message_chars=int(credentials.get("max_message_chars", MAX_MESSAGE_CHARS)),
        )

    def __init__(
        self,
        user_message_evt: Text = "user_uttered",
        bot_message_evt: Text = "bot_uttered",
        namespace: Optional[Text] = None,
        socketio_path: Optional[Text] = "/socket.io",
        jwt_key: Optional[Text] = None,
        jwt_method: Optional[Text] = "HS256",
        metadata_key: Optional[Text] = "metadata",
        redis_url: Optional[str] = None,
        redis_channel: str = "kefu-webchat",
        cors_allowed_origins: Any = None,
        static_prefix: str = "/webchat",
        max_message_chars: int = MAX_MESSAGE_CHARS,
    ) -> None:
        super().__init__(user_message_evt, bot_message_evt, namespace, True,
                         socketio_path, jwt_key, jwt_method, metadata_key)
        self.redis_url = redis_url
        self.redis_channel = redis_channel
        self.cors_allowed_origins = allowed_origins(cors_allowed_origins)
        self.trusted_proxies = load_settings().trusted_proxies
        self.static_prefix = static_prefix
        self.max_message_chars = max_message_chars
        self._tasks: Set[asyncio.Future] = set()  # photo turns and page events, kept until done
        self._page_opens: Dict[str, asyncio.Future] = {}  # socket id -> its page being recorded as open

    def make_server(self) -> AsyncServer:
        """The socket.io server; shared through Redis when configured."""
        sanic_websocket.install()  # or every websocket closes at its first read (Python 3.11)
        options: Dict[str, Any] = dict(
            async_mode="sanic",
            cors_allowed_origins=self.cors_allowed_origins,
            max_http_buffer_size=MAX_PACKET_BYTES,
        )
        if self.redis_url:
            options["client_manager"] = AsyncRedisManager(self.redis_url, channel=self.redis_channel)
            logger.info("webchat: socket.io rooms shared through Redis (channel %s)", self.redis_channel)
        return AsyncServer(**options)

    def get_output_channel(self) -> Optional[OutputChannel]:
        if self.sio is None:
            logger.warning("webchat: no socket.io server yet, cannot push a message")
            return None
        return WebChatOutput(self.sio, self.bot_message_evt, self.namespace)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = self.make_server()
        self.sio = sio
        webhook = WebChatBlueprint(sio, self.socketio_path, static_blueprint(self.static_prefix),
                                   "webchat_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "redis": bool(self.redis_url)})

        handle = answering_failures(on_new_message)

        @webhook.route(PHOTO_PATH, methods=["POST", "OPTIONS"], stream=True)
        async def photo(request: Request) -> HTTPResponse:
            if request.method == "OPTIONS":  # a plain Sanic app; in Rasa's the middleware answers it
                return self.widget_preflight(request)
            return await self.receive_photo(request, sio, handle)

        @webhook.route(RECORD_PATH, methods=["GET", "OPTIONS"])
        async def record(request: Request) -> HTTPResponse:
            if request.method == "OPTIONS":
                return self.widget_preflight(request)
            return await self.serve_record(request)

        webhook.ctx.preflight = self.widget_preflight

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            request = environ.get("sanic.request")
            if request is not None:
                await sio.save_session(sid, {"client": ids.client_address(request.ip, request.headers,
                                                                      self.trusted_proxies)},
                                       namespace=self.namespace)
            if not self.jwt_key:
                return True
            token = auth.get("token") if isinstance(auth, dict) else None
            payload = None
            if token:
                try:
                    payload = rasa.core.channels.channel.decode_bearer_token(token, self.jwt_key, self.jwt_algorithm)
                except Exception:  # a bad token is a refused connection
                    payload = None
            return bool(payload)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any = None) -> None:
            token = parse_session_request(data)
            session_id = session_id_for(token)
            bound = await sio.get_session(sid, namespace=self.namespace)
            if bound.get("session_id") not in (None, session_id):
                await sio.leave_room(sid, bound["session_id"], namespace=self.namespace)
            bound["session_id"] = session_id
            await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", token, room=sid, namespace=self.namespace)
            logger.debug("webchat: session %s joined", session_hash(session_id))
            opened = self.keep(_page_event(notify_store().page_opened, sid,
                                           ids.Identity(ids.WEB, session_id).conversation_id))
            self._page_opens[sid] = opened
            try:
                await opened
            finally:
                if self._page_opens.get(sid) is opened:
                    del self._page_opens[sid]
            if not sio.manager.is_connected(sid, self.namespace or "/"):
                await _page_event(notify_store().page_closed, sid)  # it left before its opening was written

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text, *_reason: Any) -> None:
            # socket.io runs a disconnect inside the request (or websocket) that brought it, and Sanic
            # cancels that request's task when the connection drops, as it does when a page leaves: the
            # closing is written by a task of its own, which that cancel cannot stop
            await asyncio.shield(self.keep(_page_left(sid, self._page_opens.pop(sid, None))))

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:
            bound = await sio.get_session(sid, namespace=self.namespace)
            try:
                if not bound.get("session_id"):
                    raise BadMessage("no_session")
                incoming = parse_user_message(data, metadata_key=self.metadata_key or "metadata",
                                              max_chars=self.max_message_chars)
                output = WebChatOutput(sio, self.bot_message_evt, self.namespace)
                message = user_message(ids.Identity(ids.WEB, bound["session_id"]), incoming.text, output,
                                       connector=self.name(), client_address=bound.get("client"),
                                       metadata=incoming.metadata, max_chars=self.max_message_chars)
            except BadMessage as bad:
                logger.info("webchat: refused a %s message on %s", bad.reason,
                            session_hash(bound.get("session_id") or sid))
                notice = render_notice(bad.reason, bad.language, self.max_message_chars)
                if notice is not None:
                    await sio.emit(self.bot_message_evt, notice, room=sid, namespace=self.namespace)
                return
            logger.debug("webchat: message on %s: %s", session_hash(bound["session_id"]), redact(incoming.text)[:80])
            await handle(message)

        return webhook

    # ---- photo upload ------------------------------------------------------

    def page_origin(self, request: Request) -> Optional[str]:
        """The page's origin when it may upload (None: no ``Origin``, a
        client that is not a browser page); :class:`PhotoRefused`
        ``origin`` for a page of any other origin."""
        origin = (request.headers.get("Origin") or "").strip()
        if not origin:
            return None
        if not origin_allowed(origin, self.cors_allowed_origins,
                              own_origins(request.scheme, request.host, request.headers)):
            raise PhotoRefused("origin")
        return origin

    def widget_preflight(self, request: Request) -> HTTPResponse:
        """The answer to a shop page asking whether it may upload or read the record."""
        try:
            origin = self.page_origin(request)
        except PhotoRefused:
            logger.info("webchat: a photo preflight from a page of another origin refused")
            return self.widget_reply(request, 403, {"error": "origin",
                                                   "text": photo_refusal_text("origin", photo_limit(), None)})
        return self.widget_reply(request, 204, None, cors_headers(origin, preflight=True))

    def widget_reply(self, request: Request, status: int, body: Optional[Dict[str, Any]],
                     headers: Optional[Dict[str, str]] = None) -> HTTPResponse:
        """Every answer of the widget's HTTP routes (photo, record): not
        sniffed, not cached, varying by origin, and left alone by Rasa's own
        CORS handling."""
        setattr(request.ctx, SANIC_CORS_DONE, "1")
        all_headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Vary": "Origin",
                       **(headers or {})}
        if body is None:
            return response.empty(status=status, headers=all_headers)
        return response.json(body, status=status, headers=all_headers)

    def widget_session(self, request: Request) -> str:
        """The session a widget call is for, from its token alone (and, with a
        ``jwt_key``, only with a valid bearer token); :class:`PhotoRefused`
        ``no_session`` otherwise."""
        token = (request.headers.get("X-Kefu-Session") or "").strip()
        if not valid_session_token(token):
            raise PhotoRefused("no_session")
        if self.jwt_key:
            bearer = (request.headers.get("Authorization") or "").strip()
            payload = None
            if bearer.startswith("Bearer "):
                payload = rasa.core.channels.channel.decode_bearer_token(bearer, self.jwt_key, self.jwt_algorithm)
            if not payload:
                raise PhotoRefused("no_session")
        return session_id_for(token)

    async def receive_photo(self, request: Request, sio: AsyncServer,
                            handle: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        """``POST /photo``: check who sends what from the headers before a
        byte of the body is read, read it capped, give it to the intake, and
        start the turn in which Rasa hears :data:`PHOTO_TEXT`."""
        language = photo_language(request.headers)
        limit, origin, session_id = photo_limit(), None, None
        try:
            origin = self.page_origin(request)
            session_id = self.widget_session(request)
            if not is_image_type(request.headers.get("Content-Type")):
                raise PhotoRefused("not_image")
            data = await read_capped(request, limit)
            if not data:
                raise PhotoRefused("empty")
            received = await self.keep_photo(session_id, data, self.client_of(request))
        except PhotoRefused as refused:
            if refused.reason == "too_big":
                stop_reading(request)
            logger.info("webchat: a photo %s refused: %s",
                        f"of {session_hash(session_id)}" if session_id else "without a session", refused.reason)
            body = {"error": refused.reason, "text": photo_refusal_text(refused.reason, limit, language)}
            return self.widget_reply(request, PHOTO_STATUS[refused.reason], body, cors_headers(origin))
        self.start_photo_turn(request, sio, handle, session_id, language)
        return self.widget_reply(request, 200, {"ok": True, "photos": received.waiting,
                                               "duplicate": received.duplicate}, cors_headers(origin))

    # ---- the service record -------------------------------------------------

    async def serve_record(self, request: Request) -> HTTPResponse:
        """``GET /record``: the session's service record for the widget's
        panel, as the session token proves it (never a name in the
        request), in the conversation's language; 304 while the version
        the page holds (``If-None-Match``) is still the record's."""
        origin, session_id = None, None
        try:
            origin = self.page_origin(request)
            session_id = self.widget_session(request)
            conversation = ids.Identity(ids.WEB, session_id).conversation_id
            slots = await conversation_slots(request, conversation)
            lang = record_language(slots, request.headers)
            body = await asyncio.to_thread(panel_for, conversation, slots, lang)
        except PhotoRefused as refused:  # no or a bad token (401), a page of another origin (403)
            return self.widget_reply(request, PHOTO_STATUS[refused.reason], {"error": refused.reason},
                                    cors_headers(origin))
        except Exception as error:
            logger.warning("webchat: the record of %s could not be read: %s",
                           session_hash(session_id) if session_id else "a session", type(error).__name__)
            text_of = responses.text("utter_notice_error", photo_language(request.headers) or "zh")
            return self.widget_reply(request, 503, {"error": "unavailable", "text": text_of}, cors_headers(origin))
        body["refresh_seconds"] = RECORD_REFRESH_SECONDS
        etag = f'"{body["version"]}"' if body.get("version") else None
        headers = {**cors_headers(origin), **({"ETag": etag} if etag else {})}
        if etag and etag in (request.headers.get("If-None-Match") or ""):
            return self.widget_reply(request, 304, None, headers)
        return self.widget_reply(request, 200, body, headers)

    def client_of(self, request: Request) -> Optional[str]:
        return ids.client_address(request.ip, request.headers, self.trusted_proxies)

    async def keep_photo(self, session_id: str, data: bytes, client: Optional[str]) -> Received:
        """What the intake made of the photo (kept, or already waiting);
        :class:`PhotoRefused` with the intake's reason, or
        ``unavailable`` when the storage or the database is away. Anyone
        can open a session, so photos are also counted per address."""
        conversation = ids.Identity(ids.WEB, session_id).conversation_id
        try:
            return await asyncio.to_thread(intake().receive, conversation, CHANNEL, data, ids.client_key(client))
        except Refused as refused:
            raise PhotoRefused(refused.reason) from None
        except Exception as error:
            logger.warning("webchat: a photo of %s could not be kept: %s", session_hash(session_id),
                           type(error).__name__)
            raise PhotoRefused("unavailable") from None

    def start_photo_turn(self, request: Request, sio: AsyncServer, handle: Callable[[UserMessage], Awaitable[Any]],
                         session_id: str, language: Optional[str]) -> None:
        """Rasa hears :data:`PHOTO_TEXT` for the session, after the upload
        was answered: its reply goes to the session's room like any other,
        and the page is not kept waiting for the whole turn."""
        output = WebChatOutput(sio, self.bot_message_evt, self.namespace)
        message = user_message(ids.Identity(ids.WEB, session_id), PHOTO_TEXT, output, connector=self.name(),
                               client_address=self.client_of(request),
                               metadata={"lang": language} if language else None)
        self.keep(handle(message))

    def keep(self, work: Awaitable[Any]) -> asyncio.Future:
        """``work`` as a task the connector holds until it ends: the event
        loop keeps only weak references to tasks, and work that must finish
        should not hang on whoever started it."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

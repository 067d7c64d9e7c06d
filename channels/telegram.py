"""Telegram connector (python-telegram-bot 22) for Kefu.

Telegram reaches Kefu in one of two ways:

* ``mode: webhook`` (production): Telegram POSTs each Update to
  ``/webhooks/telegram/webhook`` with the secret given to ``setWebhook`` in the
  ``X-Telegram-Bot-Api-Secret-Token`` header; a request without the right
  secret is refused (403) before its body is even parsed. If ``webhook_url``
  is configured, the webhook is (re)registered when the server starts.
* ``mode: polling`` (development, no public URL): a ``getUpdates`` long-poll
  loop started with the server and stopped with it, after the batch in hand
  is finished (nothing is cut off half-way).

Both paths feed the same ``handle_update``: an update is claimed once in the
shared channel state (Telegram resends an update until it is acknowledged),
then turned into a Rasa ``UserMessage``. The wire format stays in the small
pure functions below (``parse_update``, ``render_keyboard``, ``split_text``...).

A photo (or an image sent as a file) becomes evidence: the largest size
Telegram declares within the intake's limit is fetched with ``getFile`` and
the Bot API file endpoint (``file_base``, derived from ``api_base`` unless
configured), never more than the limit is read, and the intake
(:mod:`kefu.evidence.intake`) checks, cleans and records it. Rasa then hears
``/send_photo`` (and the caption as a message of its own); a refused photo
gets a polite answer from the connector and Rasa hears nothing.

Replies go through python-telegram-bot's ``Bot`` (``base_url`` = configurable
``api_base`` so tests talk to a local fake Bot API) and every call goes
through ``send_with_retry``: 429 waits ``retry_after`` and retries, 5xx and
network errors are retried, 4xx (chat not found, bot blocked) are permanent.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import weakref
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple, TypeVar

import httpx
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from channels.delivery import PermanentSendError, send_with_retry
from channels.edge import user_message
from kefu.core import ids, responses
from kefu.core import text as texts
from kefu.core.clock import utcnow
from kefu.evidence.intake import PHOTO_TEXT, Refused, intake, refusal
from kefu.state import channel_state

logger = logging.getLogger(__name__)
#: httpx logs every request URL at INFO, and a Bot API URL holds the bot token
logging.getLogger("httpx").setLevel(logging.WARNING)
T = TypeVar("T")

CHANNEL = "telegram"
DEFAULT_API_BASE = "https://api.telegram.org/bot"
#: where getFile's ``file_path`` is downloaded: ``<file base><token>/<file_path>``
DEFAULT_FILE_BASE = "https://api.telegram.org/file/bot"
#: a download that stalls longer is given up ("send it again")
DOWNLOAD_TIMEOUT = 30.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: Updates are a few KB; anything far bigger is not from Telegram.
MAX_BODY_BYTES = 1_000_000
#: Telegram's own limits (Bot API): message text and callback_data.
MAX_TEXT_CHARS = 4096
MAX_CALLBACK_BYTES = 64
#: callback_data that stands for a payload kept in the channel state
CALLBACK_KEY_PREFIX = "k:"
CALLBACK_TTL = timedelta(days=90)
#: what Kefu asks Telegram to deliver; everything else is ignored anyway
ALLOWED_UPDATES = ["message", "callback_query"]
GREET = "/greet"

#: polite answers the connector gives itself, without touching the
#: conversation: the responses of domain.yml, by the kind of update
POLITE: Dict[str, str] = {
    "unsupported": "utter_notice_text_and_photos_only",
    "too_long": "utter_notice_too_long",
    "error": "utter_notice_error",
    "expired": "utter_notice_button_expired",
}


# --------------------------------------------------------------------------
# wire format: pure functions
# --------------------------------------------------------------------------


class MalformedUpdate(ValueError):
    """The body is not a Telegram Update (answered with 400)."""


@dataclass(frozen=True)
class FileRef:
    """One file Telegram offers for a photo: a PhotoSize, or an image sent
    as a document. ``size`` is what Telegram declares (it may not)."""

    file_id: str
    size: Optional[int] = None
    pixels: int = 0


@dataclass(frozen=True)
class Incoming:
    """What Kefu needs from one Telegram Update.

    ``kind`` is ``text`` (typed text, /start already mapped), ``callback``
    (a button click; ``text`` is its raw callback_data), ``photo`` (a photo
    or an image file: ``files`` are its sizes, ``text`` is the caption, maybe
    empty), ``unsupported`` (a sticker, voice, other files..., answered
    politely) or ``ignored`` (an update type Kefu does not handle).
    """

    update_id: int
    kind: str
    chat_id: Optional[int] = None
    text: str = ""
    message_id: Optional[int] = None
    callback_query_id: Optional[str] = None
    language_code: Optional[str] = None
    chat_type: Optional[str] = None
    files: Tuple["FileRef", ...] = ()
    extra: Dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> Dict[str, Any]:
        """UserMessage metadata: ids useful to trace a turn, no names."""
        data: Dict[str, Any] = {"update_id": self.update_id, "message_id": self.message_id,
                                "chat_type": self.chat_type, "language_code": self.language_code}
        if self.kind == "photo":
            data["photo"] = True  # no file id: the dialogue sees only that a photo came
        if self.kind == "callback":
            data["button"] = True
        return {CHANNEL: {k: v for k, v in data.items() if v is not None}}


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def command_text(text: str) -> str:
    """The user text for a typed message.

    ``/start`` (Telegram's first message, also ``/start@KefuBot``) is a greeting
    unless it carries a deep-link payload (``t.me/bot?start=PAYLOAD``), which
    is then the user's message. Other ``/commands`` lose their slash, so that a
    shopper cannot type Rasa intent syntax (``/inform{...}``) and skip NLU;
    buttons reach Kefu as callback queries and keep theirs.
    """
    stripped = text.strip()
    if not stripped.startswith("/"):
        return stripped
    command, _, rest = stripped.partition(" ")
    command = command.split("@", 1)[0]
    if command == "/start":
        return rest.strip() or GREET
    return (command[1:] + (" " + rest.strip() if rest.strip() else "")).strip()


def parse_update(data: Any) -> Incoming:
    """A decoded Update (JSON object) -> ``Incoming``; raises
    ``MalformedUpdate`` when it is not an Update at all."""
    if not isinstance(data, dict):
        raise MalformedUpdate("an Update is a JSON object")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise MalformedUpdate("update_id missing or not an integer")

    query = data.get("callback_query")
    if isinstance(query, dict):
        clicked = _dict(query.get("message"))
        sender = _dict(query.get("from"))
        chat_id = _dict(clicked.get("chat")).get("id", sender.get("id"))
        data_field = query.get("data")
        if not isinstance(chat_id, int) or not isinstance(query.get("id"), str) or not isinstance(data_field, str):
            # a game button or an inline-mode message: nothing Kefu sent
            return Incoming(update_id, "ignored")
        return Incoming(update_id, "callback", chat_id, data_field, clicked.get("message_id"), query["id"],
                        sender.get("language_code"), _dict(clicked.get("chat")).get("type"))

    message = data.get("message")
    if not isinstance(message, dict):
        return Incoming(update_id, "ignored")  # edited messages, channel posts, member updates...
    chat = _dict(message.get("chat"))
    chat_id = chat.get("id")
    if not isinstance(chat_id, int):
        raise MalformedUpdate("message without chat.id")
    # what every kind of message shares; the kinds below replace ``kind`` (and add their own)
    common = Incoming(update_id=update_id, kind="unsupported", chat_id=chat_id, message_id=message.get("message_id"),
                      language_code=_dict(message.get("from")).get("language_code"), chat_type=chat.get("type"))
    if isinstance(message.get("text"), str):
        return replace(common, kind="text", text=command_text(message["text"]))
    files = photo_files(message)
    if files:
        caption = message.get("caption") if isinstance(message.get("caption"), str) else ""
        return replace(common, kind="photo", text=command_text(caption) if caption else "", files=files)
    if any(k in message for k in ("new_chat_members", "left_chat_member", "pinned_message", "group_chat_created")):
        return Incoming(update_id, "ignored")  # service messages, not from a shopper
    return common


def _file_ref(item: Any) -> Optional[FileRef]:
    if not isinstance(item, dict) or not isinstance(item.get("file_id"), str) or not item["file_id"]:
        return None
    size = item.get("file_size")
    width, height = item.get("width"), item.get("height")
    pixels = width * height if isinstance(width, int) and isinstance(height, int) else 0
    return FileRef(item["file_id"], size if isinstance(size, int) and not isinstance(size, bool) else None, pixels)


def photo_files(message: Dict[str, Any]) -> Tuple[FileRef, ...]:
    """The files of a photo message: its PhotoSizes, or the document when
    its declared type is an image (the bytes are checked by the intake
    anyway); () for any other message."""
    photos = message.get("photo")
    if isinstance(photos, list):
        return tuple(ref for ref in map(_file_ref, photos) if ref is not None)
    document = _dict(message.get("document"))
    if str(document.get("mime_type") or "").lower().startswith("image/"):
        ref = _file_ref(document)
        return (ref,) if ref is not None else ()
    return ()


def choose_file(files: Tuple[FileRef, ...], max_bytes: int) -> Optional[FileRef]:
    """The largest file within ``max_bytes`` (one whose size Telegram did
    not declare may be it: its download is capped); None when every one is
    declared too big, so nothing is downloaded."""
    fitting = [f for f in files if f.size is None or f.size <= max_bytes]
    return max(fitting, key=lambda f: (f.pixels, f.size or 0), default=None)


def file_base_for(api_base: str) -> str:
    """The Bot API file URL that goes with ``api_base``, as Telegram lays
    them out (``.../bot`` -> ``.../file/bot``), so a self-hosted Bot API or
    the tests' fake serves both."""
    base = (api_base or DEFAULT_API_BASE).rstrip("/")
    head, _, tail = base.rpartition("/")
    return f"{head}/file/{tail}" if head else DEFAULT_FILE_BASE


def refusal_language(language_code: Optional[str]) -> Optional[str]:
    """The language of a refused photo's answer: the app's when Telegram
    tells it, else None (both languages)."""
    return language_of(language_code) if language_code else None


def language_of(language_code: Optional[str]) -> str:
    """Telegram's ``language_code`` (IETF tag of the user's app) -> the reply
    language for the connector's own messages: Chinese first."""
    return "en" if (language_code or "").lower().startswith("en") else "zh"


def polite(kind: str, language_code: Optional[str]) -> str:
    return responses.text(POLITE[kind], language_of(language_code))


def split_text(text: str, limit: int = MAX_TEXT_CHARS) -> List[str]:
    """Split a reply into Telegram-sized messages (4096 chars), at paragraph
    or line breaks when possible; empty text gives no message."""
    text = (text or "").strip()
    parts: List[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit))
        if cut <= 0:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def callback_key(payload: str) -> str:
    """A short stable key for a payload too long for callback_data."""
    digest = hashlib.sha256(payload.encode("utf-8")).digest()[:16]
    return CALLBACK_KEY_PREFIX + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def callback_data_for(payload: str) -> tuple[str, bool]:
    """(callback_data, must_store): the payload itself when it fits in
    Telegram's 64 bytes, else a key whose payload must be stored. A payload
    that looks like a key is keyed too, so a key is never ambiguous."""
    if len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES and not payload.startswith(CALLBACK_KEY_PREFIX) and payload:
        return payload, False
    return callback_key(payload), True


def render_keyboard(buttons: List[Dict[str, Any]], store: Callable[[str, str], None]) -> InlineKeyboardMarkup:
    """Rasa buttons -> an inline keyboard. Short titles (ratings "1".."5")
    share a row, longer ones get a row each so Chinese titles are never cut.
    ``store(key, payload)`` keeps payloads that do not fit in callback_data.
    URL buttons open the link."""
    rendered: List[InlineKeyboardButton] = []
    for button in buttons:
        title = str(button.get("title") or button.get("payload") or "")[:64]
        if button.get("url") and (button.get("type") in (None, "web_url")):
            rendered.append(InlineKeyboardButton(title, url=str(button["url"])))
            continue
        payload = str(button.get("payload") or title)
        data, must_store = callback_data_for(payload)
        if must_store:
            store(data, payload)
        rendered.append(InlineKeyboardButton(title, callback_data=data))
    if rendered and all(len(b.text) <= 4 for b in rendered):
        rows = [rendered[i:i + 5] for i in range(0, len(rendered), 5)]
    else:
        rows = [[b] for b in rendered]
    return InlineKeyboardMarkup(rows)


def secret_ok(received: Optional[str], expected: Optional[str]) -> bool:
    """Constant-time check of the webhook secret; no configured secret means
    nobody is let in."""
    if not expected or received is None:
        return False
    return hmac.compare_digest(received.encode("utf-8"), expected.encode("utf-8"))


def conversation_of(chat_id: Any) -> str:
    """The conversation of a Telegram chat: ``telegram:<chat id>``. The chat
    id comes from Telegram (webhook secret, or our own getUpdates), so it
    is vouched for; a private chat's id is the user's id."""
    return ids.Identity(ids.TELEGRAM, str(chat_id)).conversation_id


def _who(chat_id: Any) -> str:
    """A chat for logs: a keyed hash, never the id in clear."""
    return ids.for_log(conversation_of(chat_id))


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------


def _send_message(chat: str, text: str) -> Callable[[Bot], Awaitable[Message]]:
    """A ``sendMessage`` of ``text`` for ``TelegramOutput.call``, bound now
    (not to a loop variable that moves on)."""
    return lambda bot: bot.send_message(chat, text)


class TelegramOutput(OutputChannel):
    """Sends Kefu's replies with python-telegram-bot's ``Bot``.

    Usable outside a request (a human agent's reply pushed later through
    ``output_channel=latest``): it holds the token and API base and makes its
    own HTTP client, one per event loop (an httpx client cannot move between
    loops, and tests or tools may run several)."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    def __init__(self, token: str, api_base: str = DEFAULT_API_BASE, *, attempts: int = 4,
                 base_delay: float = 0.5, max_retry_after: float = 30.0, file_base: Optional[str] = None) -> None:
        self.token = token
        self.api_base = api_base or DEFAULT_API_BASE
        self.file_base = file_base or file_base_for(self.api_base)
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_retry_after = max_retry_after
        self._bot: Optional[Bot] = None
        self._bot_loop: Optional[weakref.ReferenceType] = None

    @property
    def bot(self) -> Bot:
        loop = asyncio.get_running_loop()
        if self._bot is None or self._bot_loop is None or self._bot_loop() is not loop:
            self._bot = Bot(
                self.token,
                base_url=self.api_base,
                base_file_url=self.file_base,
                request=HTTPXRequest(connection_pool_size=16, connect_timeout=5, read_timeout=10),
                # getUpdates long-polls: its read timeout is raised per call
                get_updates_request=HTTPXRequest(connection_pool_size=1, connect_timeout=5, read_timeout=10),
            )
            self._bot_loop = weakref.ref(loop)
        return self._bot

    async def close(self) -> None:
        """Close the HTTP client of the current loop (server shutdown)."""
        if self._bot is not None and self._bot_loop is not None and self._bot_loop() is asyncio.get_running_loop():
            try:
                await self._bot.shutdown()
            except Exception:  # closing must not fail the shutdown
                logger.debug("closing the Telegram client failed", exc_info=True)
        self._bot = None

    async def fetch_file(self, file_id: str, max_bytes: int) -> bytes:
        """The bytes of a file a shopper sent: ``getFile`` (its declared size
        is checked first), then the file endpoint, read no further than
        ``max_bytes``. :class:`Refused` ``too_big``; ``unavailable`` when
        Telegram or the network fails (the shopper may send it again)."""
        try:
            found = await self.bot.get_file(file_id)
        except BadRequest as error:
            # getFile refuses files over the Bot API's download limit (20 MB)
            raise Refused("too_big" if "too big" in str(error).lower() else "unavailable") from None
        except TelegramError:
            raise Refused("unavailable") from None
        if found.file_size is not None and found.file_size > max_bytes:
            raise Refused("too_big")
        if not found.file_path:
            raise Refused("unavailable")
        return await download_capped(found.file_path, max_bytes)

    async def call(self, recipient_id: Any, action: Callable[[Bot], Awaitable[T]], *,
                   attempts: Optional[int] = None) -> Optional[T]:
        """One Bot API call through ``send_with_retry`` (recorded in
        ``deliveries``) for a ``telegram:`` conversation; errors Telegram
        will repeat become permanent."""

        async def attempt() -> T:
            try:
                return await action(self.bot)
            except RetryAfter as exc:
                wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                await asyncio.sleep(min(seconds, self.max_retry_after))
                raise
            except (BadRequest, Forbidden, InvalidToken, ChatMigrated) as exc:
                # 400 (chat not found, text too long), 403 (bot blocked), bad token
                raise PermanentSendError(f"Telegram refused the call: {exc}") from exc

        return await send_with_retry(attempt, channel=CHANNEL, recipient=str(recipient_id),
                                     attempts=attempts or self.attempts, base_delay=self.base_delay)

    @staticmethod
    def chat_of(recipient_id: Text) -> Optional[str]:
        """The chat id of a ``telegram:`` conversation; None (and a warning)
        for another channel's conversation (a forged ``output_channel``)."""
        try:
            return ids.native_recipient(ids.TELEGRAM, recipient_id)
        except ids.ForeignRecipient as refused:
            logger.warning("telegram: %s", refused)
            return None

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        chat = self.chat_of(recipient_id)
        if chat is None:
            return
        for part in split_text(text):
            await self.call(recipient_id, _send_message(chat, part))

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]],
                                     **kwargs: Any) -> None:
        """Quick replies as an inline keyboard under the (last part of the) text."""
        chat = self.chat_of(recipient_id)
        if chat is None:
            return
        markup = render_keyboard(buttons, self._store_payload)
        parts = split_text(text) or ["👇"]
        for part in parts[:-1]:
            await self.call(recipient_id, _send_message(chat, part))
        await self.call(recipient_id, lambda bot: bot.send_message(chat, parts[-1], reply_markup=markup))

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        chat = self.chat_of(recipient_id)
        if chat is not None:
            await self.call(recipient_id, lambda bot: bot.send_photo(chat, image))

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        """Rasa attachments are links: sent as text, Telegram previews them."""
        await self.send_text_message(recipient_id, str(attachment))

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        """``{"photo": url, "caption": ...}`` or ``{"text": ...}``; anything
        else is not a Telegram message and is dropped with a warning."""
        chat = self.chat_of(recipient_id)
        if chat is None:
            return
        if json_message.get("photo"):
            await self.call(recipient_id, lambda bot: bot.send_photo(
                chat, json_message["photo"], caption=json_message.get("caption")))
        elif json_message.get("text"):
            await self.send_text_message(recipient_id, str(json_message["text"]))
        else:
            logger.warning("custom json for Telegram without text or photo dropped (keys %s)", sorted(json_message))

    async def answer_callback(self, chat_id: Any, callback_query_id: str, text: Optional[str] = None) -> None:
        """Stop the button's spinner (Telegram expects it within seconds)."""
        await self.call(conversation_of(chat_id), lambda bot: bot.answer_callback_query(callback_query_id, text=text),
                        attempts=2)

    # payloads too long for callback_data live in the shared channel state,
    # so any Kefu process can resolve a click

    @staticmethod
    def _store_payload(key: str, payload: str) -> None:
        channel_state().put_token(f"tgcb:{key}", payload, utcnow() + CALLBACK_TTL)

    @staticmethod
    def resolve_callback(data: str) -> Optional[str]:
        """callback_data -> the button payload; None for an unknown key."""
        if not data.startswith(CALLBACK_KEY_PREFIX):
            return data
        return channel_state().get_token(f"tgcb:{data}", margin=timedelta(0))


async def download_capped(url: str, max_bytes: int) -> bytes:
    """GET ``url``, reading at most ``max_bytes`` + 1 bytes: a file bigger
    than declared is refused (``too_big``) as soon as it shows. Errors are
    ``unavailable`` without their text: the URL holds the bot token."""
    received = bytearray()
    try:
        async with httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT) as client:
            async with client.stream("GET", url) as reply:
                reply.raise_for_status()
                declared = reply.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise Refused("too_big")
                async for chunk in reply.aiter_bytes():
                    received.extend(chunk)
                    if len(received) > max_bytes:
                        raise Refused("too_big")
    except httpx.HTTPError as error:
        logger.info("telegram: a file download failed (%s)", type(error).__name__)
        raise Refused("unavailable") from None
    return bytes(received)


# --------------------------------------------------------------------------
# input
# --------------------------------------------------------------------------

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class TelegramInput(InputChannel):
    """Telegram webhook and polling input for Kefu."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        if not credentials.get("token"):
            cls.raise_missing_credentials_exception()
        mode = str(credentials.get("mode") or "webhook").strip().lower()
        if mode not in ("webhook", "polling"):
            raise ValueError(f"telegram: mode must be 'webhook' or 'polling', not {mode!r}")
        secret = credentials.get("webhook_secret") or None
        if mode == "webhook" and not secret:
            raise ValueError("telegram: webhook mode needs webhook_secret (1-256 chars of A-Z a-z 0-9 _ -)")
        return cls(
            token=str(credentials["token"]),
            webhook_secret=str(secret) if secret else None,
            webhook_url=credentials.get("webhook_url") or None,
            mode=mode,
            api_base=credentials.get("api_base") or DEFAULT_API_BASE,
            poll_timeout=int(credentials.get("poll_timeout") or 25),
            file_base=credentials.get("file_base") or None,
        )

    def __init__(self, token: str, webhook_secret: Optional[str] = None, webhook_url: Optional[str] = None,
                 mode: str = "webhook", api_base: str = DEFAULT_API_BASE, poll_timeout: int = 25,
                 output: Optional[TelegramOutput] = None, file_base: Optional[str] = None) -> None:
        self.token = token
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.mode = mode
        self.api_base = api_base
        self.poll_timeout = poll_timeout
        self.output = output or TelegramOutput(token, api_base, file_base=file_base)
        self._poller: Optional[asyncio.Task] = None
        self._stopping: Optional[asyncio.Event] = None

    def get_output_channel(self) -> TelegramOutput:
        return self.output

    # ---- one update, from the webhook or from getUpdates -----------------

    async def handle_update(self, data: Any, on_new_message: OnNewMessage) -> str:
        """Process one decoded Update; returns what happened (for the HTTP
        answer and tests). Raises ``MalformedUpdate`` for a non-Update."""
        incoming = parse_update(data)
        if incoming.kind == "ignored":
            return "ignored"
        if not channel_state().claim_message(CHANNEL, str(incoming.update_id)):
            logger.info("telegram update %s already handled, dropped", incoming.update_id)
            return "duplicate"
        out = self.output
        chat = incoming.chat_id
        conversation = conversation_of(chat)
        if incoming.kind == "callback":
            payload = out.resolve_callback(incoming.text)
            notice = None if payload else polite("expired", incoming.language_code)
            await out.answer_callback(chat, incoming.callback_query_id or "", notice)
            if not payload:
                return "expired"
            text = payload
        elif incoming.kind == "photo":
            refused = await self.take_photo(incoming)
            if refused is not None:
                return f"photo_{refused}"
            outcome = await self._hand(incoming, PHOTO_TEXT, str(incoming.update_id), on_new_message)
            if outcome != "photo" or not incoming.text:
                return outcome
            # the caption: an ordinary message of its own, after the photo
            return await self._hand(incoming, incoming.text, f"{incoming.update_id}:caption", on_new_message)
        elif incoming.kind == "unsupported":
            await out.send_text_message(conversation, polite("unsupported", incoming.language_code))
            return "unsupported"
        else:
            text = incoming.text
        return await self._hand(incoming, text, str(incoming.update_id), on_new_message)

    async def _hand(self, incoming: Incoming, text: str, message_id: str, on_new_message: OnNewMessage) -> str:
        """Hand ``text`` to Rasa as the chat's message (``incoming.kind``
        when it went through); polite answers for what must not get there
        and for a failing dialogue."""
        out, chat = self.output, incoming.chat_id
        conversation = conversation_of(chat)
        try:
            message = user_message(ids.Identity(ids.TELEGRAM, str(chat)), text, out, connector=self.name(),
                                   message_id=message_id, metadata=incoming.metadata())
        except texts.BadText as bad:
            if bad.reason == "empty":
                return "empty"
            await out.send_text_message(conversation, polite("too_long" if bad.reason == "too_long" else "unsupported",
                                                             incoming.language_code))
            return bad.reason
        try:
            await on_new_message(message)
        except Exception:  # the shopper gets an answer, the server goes on
            logger.exception("telegram: handling update %s of chat %s failed", incoming.update_id, _who(chat))
            await out.send_text_message(conversation, polite("error", incoming.language_code))
            return "failed"
        return incoming.kind

    async def take_photo(self, incoming: Incoming) -> Optional[str]:
        """Fetch the photo of ``incoming`` and give it to the intake; None
        when kept, else the reason it was refused, already answered
        politely on the chat (Rasa hears nothing of it)."""
        conversation = conversation_of(incoming.chat_id)
        limit = intake().max_bytes
        try:
            chosen = choose_file(incoming.files, limit)
            if chosen is None:
                raise Refused("too_big")  # every size Telegram offers is declared too big: nothing downloaded
            data = await self.output.fetch_file(chosen.file_id, limit)
            await asyncio.to_thread(intake().receive, conversation, CHANNEL, data)
        except Refused as refused:
            reason = refused.reason
        except Exception as error:  # the evidence store is away: the shopper may send it again
            logger.warning("telegram: photo intake failed for %s: %s", _who(incoming.chat_id), type(error).__name__)
            reason = "unavailable"
        else:
            return None
        logger.info("telegram: photo of %s refused: %s", _who(incoming.chat_id), reason)
        await self.output.send_text_message(conversation, refusal(reason, limit,
                                                                  refusal_language(incoming.language_code)))
        return reason

    # ---- HTTP ------------------------------------------------------------

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        hook = Blueprint("kefu_telegram", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "mode": self.mode})

        @hook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if len(request.body or b"") > MAX_BODY_BYTES:
                return response.json({"error": "update too large"}, status=413)
            if not secret_ok(request.headers.get(SECRET_HEADER), self.webhook_secret):
                logger.warning("telegram webhook call with a wrong or missing secret token refused")
                return response.json({"error": "forbidden"}, status=403)
            try:
                data = json.loads(request.body or b"")
                outcome = await self.handle_update(data, on_new_message)
            except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError and MalformedUpdate
                return response.json({"error": f"not a Telegram update: {error}"}, status=400)
            return response.json({"ok": True, "outcome": outcome})

        @hook.listener("after_server_start")
        async def start(_app: Any, _loop: Any) -> None:
            await self.start(on_new_message)

        @hook.listener("before_server_stop")
        async def stop(_app: Any, _loop: Any) -> None:
            await self.stop()

        return hook

    # ---- lifecycle: setWebhook, or the getUpdates loop --------------------

    async def start(self, on_new_message: OnNewMessage) -> None:
        """At server start: register the webhook (if ``webhook_url``) or
        start polling. Failures are logged, never stop the server."""
        if self.mode == "polling":
            if self._poller is None or self._poller.done():
                self._stopping = asyncio.Event()
                self._poller = asyncio.create_task(self._poll(on_new_message, self._stopping))
            return
        if self.webhook_url:
            try:
                await self.output.bot.set_webhook(self.webhook_url, secret_token=self.webhook_secret,
                                                  allowed_updates=ALLOWED_UPDATES)
                logger.info("telegram webhook registered")
            except Exception as error:
                logger.error("telegram: setWebhook failed, no updates will arrive: %s", error)

    async def stop(self, grace: float = 30.0) -> None:
        """At server stop: end polling after the batch in hand, close the client."""
        if self._poller is not None:
            assert self._stopping is not None
            self._stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._poller), grace)
            except asyncio.TimeoutError:
                self._poller.cancel()
                await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        await self.output.close()

    async def _poll(self, on_new_message: OnNewMessage, stopping: asyncio.Event) -> None:
        bot = self.output.bot
        try:
            await bot.delete_webhook(drop_pending_updates=False)  # getUpdates is refused while one is set
        except Exception as error:
            logger.warning("telegram: deleteWebhook failed: %s", error)
        offset: Optional[int] = None
        delay = 1.0
        logger.info("telegram polling started")
        while not stopping.is_set():
            fetch = asyncio.ensure_future(bot.get_updates(
                offset=offset, timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES,
                read_timeout=self.poll_timeout + 10))
            halt = asyncio.ensure_future(stopping.wait())
            await asyncio.wait({fetch, halt}, return_when=asyncio.FIRST_COMPLETED)
            if stopping.is_set():
                fetch.cancel()
                await asyncio.gather(fetch, return_exceptions=True)
                break
            halt.cancel()
            try:
                updates = fetch.result()
            except InvalidToken as error:
                logger.error("telegram polling stopped: the token is refused (%s)", error)
                return
            except Exception as error:  # network, 5xx, 409 (a webhook or another poller)
                level = logging.WARNING if isinstance(error, Conflict) else logging.INFO
                logger.log(level, "telegram getUpdates failed, retrying in %.0f s: %s", delay, error)
                try:
                    await asyncio.wait_for(stopping.wait(), delay)
                except asyncio.TimeoutError:
                    pass
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            for update in updates:
                # the whole batch is finished even if stop was asked meanwhile;
                # unconfirmed updates come back after a restart and are dropped as claimed
                offset = update.update_id + 1
                try:
                    await self.handle_update(update.to_dict(), on_new_message)
                except Exception:
                    logger.exception("telegram: update %s could not be handled", update.update_id)
        logger.info("telegram polling stopped")

"""WeChat official account (公众号) connector.

WeChat posts every message as XML to one URL (plain, or AES-encrypted in
safe mode) and resends it when it gets no answer within 5 s (3 tries). So
this channel:

* checks the signature of every request (``signature`` always,
  ``msg_signature`` in safe mode) before reading anything, refuses a
  timestamp more than 5 minutes off and a nonce already used (a replayed
  request: in plaintext mode the signature does not cover the body, so one
  captured URL would otherwise carry any body from any ``FromUserName``),
  and in safe mode accepts encrypted messages only: every refusal is a 403
  and never reaches a conversation;
* drops resends by message id through the shared ``channel_state`` (several
  Rasa processes agree);
* runs the bot with a deadline below WeChat's 5 s. One text reply ready in
  time is answered passively in the HTTP response; anything else (several
  replies, buttons, images, a slow bot, a human agent's reply pushed later)
  goes out through the customer-service message API (客服消息) with a cached
  access token shared across processes.

An image message becomes evidence: its bytes are fetched by ``MediaId``
from the media API (``/cgi-bin/media/get``, the same access token, read no
further than the intake's limit), checked, cleaned and recorded by the
intake (:mod:`kefu.evidence.intake`), and Rasa hears ``/send_photo``; its
``PicUrl``, a URL from outside, never reaches the dialogue. The fetch runs
under the same deadline as a turn, so a slow one is answered later through
the customer-service API. A refused photo gets a polite answer from the
connector and Rasa hears nothing.

The wire format is in small pure functions (``signature_ok``,
``parse_incoming``, ``inbound_from``, ``render_*``), tested on their own.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import BaseEvent, ClickEvent, SubscribeEvent, SubscribeScanEvent
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage, ImageMessage, TextMessage, VoiceMessage
from wechatpy.replies import TextReply

from channels.delivery import PermanentSendError, send_with_retry
from channels.edge import user_message
from kefu.core import ids, responses
from kefu.core import text as texts
from kefu.evidence.intake import PHOTO_TEXT, Refused, intake, refusal
from kefu.state import ChannelState, channel_state

logger = logging.getLogger(__name__)

CHANNEL = "wechat"
DEFAULT_API_BASE = "https://api.weixin.qq.com"
#: WeChat gives up after 5 s and resends; answer well before that
DEFAULT_REPLY_DEADLINE = 4.0
#: a media download that stalls longer is given up ("send it again")
MEDIA_TIMEOUT = 30.0
#: an errcode answer of the media API is a few dozen bytes
MAX_ERROR_BYTES = 64 * 1024
#: WeChat's own messages are a few hundred bytes; anything this big is not WeChat
MAX_BODY_BYTES = 64 * 1024
#: WeChat caps text input at 2048 bytes; longer "text" is not a shopper typing
MAX_TEXT_CHARS = 2000
#: a menu click may come days later (the 48 h service window, with margin)
MENU_TTL = timedelta(days=7)
#: how far a request's timestamp may be from our clock; its nonce is
#: remembered at least that long, so a replay inside the window is caught
TIMESTAMP_WINDOW_SECONDS = 300

# What the connector answers by itself. WeChat does not tell the shopper's
# language, so each is the response of domain.yml in Chinese and English.
VOICE_NOT_UNDERSTOOD = responses.both("utter_notice_voice")
UNSUPPORTED = responses.both("utter_notice_text_only")
EMPTY_TEXT = responses.both("utter_notice_empty")
TOO_LONG = responses.both("utter_notice_too_long")
APOLOGY = responses.both("utter_notice_error")

#: access token invalid / expired: refresh and send again
TOKEN_ERRORS = {40001, 40014, 42001}
#: refused for good: bad openid, outside the 48 h window, over the reply
#: quota, too long, no permission, daily limit
PERMANENT_SEND_ERRORS = {40003, 45002, 45015, 45047, 48001, 45009, 40008, 43004, 50001, 50002}
#: token requests that retrying cannot fix: wrong appid/secret, IP not allowed
PERMANENT_TOKEN_ERRORS = {40002, 40013, 40125, 40164, 41002, 41004, 89503}


class MalformedMessage(ValueError):
    """The request body is not a WeChat message (HTTP 400)."""


class WeChatAPIError(Exception):
    """WeChat answered with an errcode that retrying may fix (-1: busy)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat errcode {errcode}: {errmsg}")
        self.errcode = errcode


# --------------------------------------------------------------------------
# wire format: pure functions
# --------------------------------------------------------------------------


def signature_ok(token: str, signature: str, timestamp: str, nonce: str, *extra: str) -> bool:
    """WeChat's signature: sha1 of the sorted, concatenated ``token``,
    ``timestamp``, ``nonce`` (and ``Encrypt`` for ``msg_signature``).
    Compared in constant time so it cannot be guessed byte by byte."""
    if not (signature and timestamp and nonce):
        return False
    parts = sorted([token, timestamp, nonce, *extra])
    expected = hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()
    return hmac.compare_digest(expected, signature.lower())


def fresh(timestamp: str, now: Optional[float] = None, window: int = TIMESTAMP_WINDOW_SECONDS) -> bool:
    """Whether a request's timestamp is within ``window`` seconds of now."""
    try:
        return abs((now if now is not None else time.time()) - int(timestamp)) <= window
    except (TypeError, ValueError):
        return False


def parse_incoming(xml: Any) -> BaseMessage:
    """The message in a (decrypted) WeChat XML body; MalformedMessage for
    anything that is not one."""
    if not xml:
        raise MalformedMessage("empty body")
    try:
        message = parse_message(xml)
        if message is None or not message.source:
            raise MalformedMessage("no sender")
        return message
    except MalformedMessage:
        raise
    except Exception as error:  # expat, missing MsgType, non-dict root: all malformed
        raise MalformedMessage(f"{type(error).__name__}") from error


def message_key(message: BaseMessage) -> str:
    """The id under which a resend of ``message`` is recognised: MsgId for
    messages, sender + CreateTime for events (they have no MsgId). The
    openid is hashed: the claims table needs no personal data."""
    if isinstance(message, BaseEvent) or not message.id:
        return f"{message.target}:evt:{ids.keyed_hash(message.source, 'wechat-event')}:{message.time}"
    return f"{message.target}:{message.id}"


@dataclass(frozen=True)
class Inbound:
    """What an incoming WeChat message means for Kefu.

    ``text`` set: hand it to the bot. ``media_id`` set: a photo, to fetch
    and keep before the bot hears of it. ``answer`` set: answer this
    politely without touching the conversation. None of them: acknowledge
    and ignore (unsubscribe, location reports, menu links)."""

    text: Optional[str] = None
    answer: Optional[str] = None
    media_id: Optional[str] = None
    menu_id: Optional[str] = None
    metadata: Dict[str, Any] = field(default_factory=dict)


def inbound_from(message: BaseMessage) -> Inbound:
    """Map a parsed WeChat message to what the bot should see."""
    meta = {"msg_type": message.type, "account": message.target, "create_time": message.time}
    if message.id and not isinstance(message, BaseEvent):
        meta["msg_id"] = str(message.id)
    if isinstance(message, TextMessage):
        content = (message.content or "").strip()
        menu_id = (getattr(message, "_data", {}) or {}).get("bizmsgmenuid")
        if menu_id:
            meta["menu_id"] = str(menu_id)
        if not content and not menu_id:
            return Inbound(answer=EMPTY_TEXT)
        if len(content) > MAX_TEXT_CHARS:
            return Inbound(answer=TOO_LONG)
        return Inbound(text=content, menu_id=str(menu_id) if menu_id else None, metadata=meta)
    if isinstance(message, VoiceMessage):
        recognition = (message.recognition or "").strip()
        if not recognition:
            return Inbound(answer=VOICE_NOT_UNDERSTOOD)
        return Inbound(text=recognition, metadata={**meta, "recognition": True})
    if isinstance(message, ImageMessage):
        # fetched by MediaId from WeChat's own API; PicUrl is a URL from
        # outside and never reaches the dialogue, nor does the media id
        if not message.media_id:
            return Inbound(answer=UNSUPPORTED)
        return Inbound(media_id=str(message.media_id), metadata=meta)
    if isinstance(message, (SubscribeEvent, SubscribeScanEvent)):
        return Inbound(text="/greet", metadata={**meta, "event": "subscribe"})
    if isinstance(message, ClickEvent):
        key = (message.key or "").strip()
        if not key:
            return Inbound()
        return Inbound(text=key, metadata={**meta, "event": "click"})
    if isinstance(message, BaseEvent):
        return Inbound()
    return Inbound(answer=UNSUPPORTED)


def menu_id(payload: str) -> str:
    """A short, stable id for a button payload: the same payload always gets
    the same id, so the id -> payload map never grows per message."""
    return "k" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def render_text(openid: str, text: str) -> Dict[str, Any]:
    """A customer-service text message."""
    return {"touser": openid, "msgtype": "text", "text": {"content": text}}


def render_image(openid: str, image_url: str, title: str = "图片 / Image") -> Dict[str, Any]:
    """An image by URL as a one-article news message: the custom API only
    takes uploaded media ids for ``image``, and news shows the picture."""
    return {"touser": openid, "msgtype": "news",
            "news": {"articles": [{"title": title, "description": "", "url": image_url, "picurl": image_url}]}}


def render_link(openid: str, url: str, title: str = "") -> Dict[str, Any]:
    """A link as text: WeChat text messages render ``<a href>``."""
    label = title or url
    return render_text(openid, f'<a href="{url}">{label}</a>')


def render_buttons(openid: str, text: str, buttons: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Buttons as WeChat's 菜单消息 (msgmenu): a click comes back as a text
    message whose ``bizmsgmenuid`` is the item id. URL buttons become links
    in the text; a reply without payload buttons is plain text."""
    items = [{"id": menu_id(str(b["payload"])), "content": str(b.get("title") or b["payload"])}
             for b in buttons if b.get("payload")]
    links = [f'<a href="{b["url"]}">{b.get("title") or b["url"]}</a>'
             for b in buttons if b.get("url") and not b.get("payload")]
    head = "\n".join([text, *links]) if links else text
    if not items:
        return render_text(openid, head)
    return {"touser": openid, "msgtype": "msgmenu",
            "msgmenu": {"head_content": head, "list": items, "tail_content": ""}}


def render_passive_text(account: str, openid: str, text: str, now: Optional[int] = None) -> str:
    """The XML of a passive text reply (the HTTP answer to WeChat's POST)."""
    return TextReply(source=account, target=openid, content=text, time=int(now or time.time())).render()


def passive_text(messages: List[Dict[str, Any]]) -> Optional[str]:
    """The text to answer passively, when the replies are exactly one plain
    text (a passive reply carries one message, and no menu)."""
    if len(messages) == 1 and messages[0].get("msgtype") == "text":
        return messages[0]["text"]["content"]
    return None


# --------------------------------------------------------------------------
# WeChat API client: access token and custom send
# --------------------------------------------------------------------------


class WeChatClient:
    """The customer-service API with its access token.

    The token lives in ``channel_state`` (shared by every process, refreshed
    5 minutes before it expires); a token error refreshes it once and sends
    again. No request state: usable from a webhook or a later push."""

    def __init__(self, app_id: str, app_secret: str, api_base: str = DEFAULT_API_BASE,
                 state: Optional[ChannelState] = None, timeout: float = 10.0) -> None:
        self.app_id = app_id
        self._secret = app_secret
        self.api_base = api_base.rstrip("/")
        self._state = state
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    @property
    def state(self) -> ChannelState:
        return self._state or channel_state()

    @property
    def token_name(self) -> str:
        return f"wechat:{self.app_id}"

    async def access_token(self, stale: Optional[str] = None) -> str:
        """The cached token, or a new one when it is missing, about to expire
        or equal to ``stale`` (the one WeChat just refused; another process
        may already have refreshed it)."""
        cached = self.state.get_token(self.token_name)
        if cached and cached != stale:
            return cached
        params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret}
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            async with session.get(f"{self.api_base}/cgi-bin/token", params=params) as reply:
                reply.raise_for_status()
                data = json.loads(await reply.text())
        token = data.get("access_token")
        if not token:
            code = int(data.get("errcode", -1))
            if code in PERMANENT_TOKEN_ERRORS:
                raise PermanentSendError(f"WeChat refused the access token request: errcode {code}")
            raise WeChatAPIError(code, str(data.get("errmsg", "")))
        expires_at = datetime.now(timezone.utc) + timedelta(seconds=int(data.get("expires_in", 7200)))
        self.state.put_token(self.token_name, token, expires_at)
        return token

    async def _post(self, token: str, message: Dict[str, Any]) -> Dict[str, Any]:
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")  # WeChat shows \\uXXXX escapes literally
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            async with session.post(f"{self.api_base}/cgi-bin/message/custom/send", params={"access_token": token},
                                    data=body, headers={"Content-Type": "application/json; charset=utf-8"}) as reply:
                reply.raise_for_status()
                return json.loads(await reply.text())

    async def send(self, message: Dict[str, Any]) -> None:
        """Send one custom message; PermanentSendError when WeChat refuses it
        for good, WeChatAPIError / transport errors when a retry may help."""
        token = await self.access_token()
        data = await self._post(token, message)
        code = int(data.get("errcode", 0))
        if code in TOKEN_ERRORS:
            token = await self.access_token(stale=token)
            data = await self._post(token, message)
            code = int(data.get("errcode", 0))
        if code == 0:
            return
        if code in PERMANENT_SEND_ERRORS:
            raise PermanentSendError(f"WeChat refused the message: errcode {code}")
        raise WeChatAPIError(code, str(data.get("errmsg", "")))

    async def media(self, media_id: str, max_bytes: int) -> bytes:
        """The bytes of a temporary media file (what a shopper sent, by its
        MediaId), read no further than ``max_bytes``: :class:`Refused`
        ``too_big``; WeChatAPIError for an errcode answer (an unknown or
        expired media id), after one token refresh."""
        token = await self.access_token()
        data, code = await self._get_media(token, media_id, max_bytes)
        if code in TOKEN_ERRORS:
            token = await self.access_token(stale=token)
            data, code = await self._get_media(token, media_id, max_bytes)
        if code:
            raise WeChatAPIError(code, "media/get refused")
        return data

    async def _get_media(self, token: str, media_id: str, max_bytes: int) -> tuple[bytes, int]:
        """(bytes, 0), or (b"", errcode) when WeChat answered JSON instead."""
        params = {"access_token": token, "media_id": media_id}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=MEDIA_TIMEOUT)) as session:
            async with session.get(f"{self.api_base}/cgi-bin/media/get", params=params) as reply:
                reply.raise_for_status()
                if reply.content_type in ("application/json", "text/plain"):
                    return b"", _errcode(await reply.content.read(MAX_ERROR_BYTES))
                if reply.content_length is not None and reply.content_length > max_bytes:
                    raise Refused("too_big")  # declared too big: not downloaded
                received = bytearray()
                async for chunk in reply.content.iter_chunked(64 * 1024):
                    received.extend(chunk)
                    if len(received) > max_bytes:
                        raise Refused("too_big")
                return bytes(received), 0

    def remember_menu(self, buttons: List[Dict[str, Any]]) -> None:
        """Keep id -> payload for menu buttons so a click maps back."""
        until = datetime.now(timezone.utc) + MENU_TTL
        for button in buttons:
            if button.get("payload"):
                payload = str(button["payload"])
                self.state.put_token(f"wechat-menu:{menu_id(payload)}", payload, until)

    def menu_payload(self, item_id: str) -> Optional[str]:
        return self.state.get_token(f"wechat-menu:{item_id}", margin=timedelta(0))


def _errcode(body: bytes) -> int:
    """The errcode of a JSON error answer; -1 when it is not even that."""
    try:
        return int(json.loads(body.decode("utf-8")).get("errcode", -1)) or -1
    except (ValueError, AttributeError, TypeError):
        return -1


# --------------------------------------------------------------------------
# Rasa channels
# --------------------------------------------------------------------------


class WeChatOutput(OutputChannel):
    """Sends through the customer-service API: every reply outside a
    request (a human agent's answer via ``output_channel=latest``) and every
    reply that missed the passive answer."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    def __init__(self, client: WeChatClient) -> None:
        self.client = client

    async def _emit(self, recipient_id: str, message: Dict[str, Any]) -> None:
        await send_with_retry(lambda: self.client.send(message), channel=CHANNEL, recipient=recipient_id,
                              state=self.client._state)

    @staticmethod
    def openid_of(recipient_id: Text) -> Optional[str]:
        """The openid of a ``wechat:`` conversation; None (and a warning) for
        another channel's conversation (a forged ``output_channel``)."""
        try:
            return ids.native_recipient(ids.WECHAT, recipient_id)
        except ids.ForeignRecipient as refused:
            logger.warning("wechat: %s", refused)
            return None

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        # one message per response, not per paragraph: one reply can still be
        # answered passively, and the shopper sees what the bot wrote as one
        openid = self.openid_of(recipient_id)
        if openid and text.strip():
            await self._emit(recipient_id, render_text(openid, text.strip()))

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        openid = self.openid_of(recipient_id)
        if openid:
            await self._emit(recipient_id, render_image(openid, image))

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        openid = self.openid_of(recipient_id)
        if openid:
            await self._emit(recipient_id, render_link(openid, attachment))

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]],
                                     **kwargs: Any) -> None:
        openid = self.openid_of(recipient_id)
        if not openid:
            return
        message = render_buttons(openid, text, buttons)
        if message["msgtype"] == "msgmenu":
            self.client.remember_menu(buttons)
        await self._emit(recipient_id, message)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        """A custom response that is already a WeChat custom message
        (``{"msgtype": ..., ...}``) is sent as is, to this recipient."""
        openid = self.openid_of(recipient_id)
        if not openid:
            return
        if "msgtype" not in json_message:
            logger.warning("wechat: custom json without msgtype ignored")
            return
        await self._emit(recipient_id, {**json_message, "touser": openid})


class _RequestOutput(WeChatOutput):
    """The output channel of one incoming message: replies are held while a
    passive answer is still possible; after ``release()`` they (and any that
    come later) go out in order through the custom API."""

    def __init__(self, client: WeChatClient) -> None:
        super().__init__(client)
        self.held: List[tuple] = []
        self.released = False
        self.finished = False
        self._queue: Optional[asyncio.Queue] = None
        self.worker: Optional[asyncio.Task] = None

    async def _emit(self, recipient_id: str, message: Dict[str, Any]) -> None:
        if self._queue is not None:
            self._queue.put_nowait((recipient_id, message))
        else:
            self.held.append((recipient_id, message))

    def release(self) -> None:
        self._queue = asyncio.Queue()
        for item in self.held:
            self._queue.put_nowait(item)
        self.held = []
        if self.finished:
            self._queue.put_nowait(None)
        self.worker = asyncio.ensure_future(self._drain())

    def finish(self) -> None:
        self.finished = True
        if self._queue is not None:
            self._queue.put_nowait(None)

    async def _drain(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            if item is None:
                return
            await WeChatOutput._emit(self, *item)


class WeChatInput(InputChannel):
    """The message endpoint of a WeChat official account:
    ``/webhooks/wechat/webhook`` (set it as the server URL in mp.weixin.qq.com)."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WeChatInput":
        credentials = credentials or {}
        missing = [k for k in ("token", "app_id", "app_secret") if not credentials.get(k)]
        if missing:
            raise ValueError(f"wechat credentials need {', '.join(missing)}")
        return cls(
            token=str(credentials["token"]),
            app_id=str(credentials["app_id"]),
            app_secret=str(credentials["app_secret"]),
            encoding_aes_key=credentials.get("encoding_aes_key") or None,
            api_base=credentials.get("api_base") or DEFAULT_API_BASE,
            reply_deadline=float(credentials.get("reply_deadline") or DEFAULT_REPLY_DEADLINE),
        )

    def __init__(self, token: str, app_id: str, app_secret: str, encoding_aes_key: Optional[str] = None,
                 api_base: str = DEFAULT_API_BASE, reply_deadline: float = DEFAULT_REPLY_DEADLINE,
                 state: Optional[ChannelState] = None) -> None:
        self.token = token
        self.app_id = app_id
        self.client = WeChatClient(app_id, app_secret, api_base, state)
        self.crypto: Optional[WeChatCrypto] = None
        if encoding_aes_key:
            if len(encoding_aes_key) != 43:
                raise ValueError("wechat encoding_aes_key must be the 43 characters shown by WeChat")
            self.crypto = WeChatCrypto(token, encoding_aes_key, app_id)
        self.reply_deadline = reply_deadline
        self._tasks: set = set()

    def get_output_channel(self) -> OutputChannel:
        return WeChatOutput(self.client)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"wechat_webhook_{id(self)}", type(self).__module__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            """URL verification when the server URL is saved in WeChat."""
            if not self._signed(request):
                return response.text("invalid signature", status=403)
            return response.text(request.args.get("echostr", ""))

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self._receive(request, on_new_message)

        return webhook

    def _signed(self, request: Request) -> bool:
        """A valid signature on a fresh timestamp."""
        a = request.args
        return (signature_ok(self.token, a.get("signature", ""), a.get("timestamp", ""), a.get("nonce", ""))
                and fresh(a.get("timestamp", "")))

    def _replayed(self, request: Request, message: BaseMessage) -> bool:
        """Whether the request's nonce was used before by another message: a
        replay. WeChat's own retry of the same message (same MsgId) is not
        one; it is answered like any resend."""
        a = request.args
        try:
            first = self.client.state.claim_message(f"{CHANNEL}-nonce",
                                                    f"{a.get('timestamp', '')}:{a.get('nonce', '')}")
        except Exception:  # the signature and the window still hold
            logger.exception("wechat: could not remember a nonce")
            return False
        if first:
            return False
        try:
            return not self.client.state.is_claimed(CHANNEL, message_key(message))
        except Exception:
            logger.exception("wechat: could not check a resend")
            return True

    def _open(self, request: Request) -> Any:
        """The message XML: the body, or the decrypted ``Encrypt`` in safe
        mode (``msg_signature`` checked by wechatpy). Raises
        InvalidSignatureException (403) or MalformedMessage (400)."""
        body = request.body or b""
        if request.args.get("encrypt_type", "raw").lower() != "aes":
            if self.crypto is not None:  # safe mode: plaintext is not from WeChat
                raise InvalidSignatureException()
            return body
        if self.crypto is None:
            logger.error("wechat: encrypted message but no encoding_aes_key configured")
            raise MalformedMessage("encryption not configured")
        a = request.args
        try:
            return self.crypto.decrypt_message(body, a.get("msg_signature", ""), a.get("timestamp", ""),
                                               a.get("nonce", ""))
        except (InvalidSignatureException, InvalidAppIdException):
            raise InvalidSignatureException() from None
        except Exception as error:  # bad XML, base64 or padding
            raise MalformedMessage(type(error).__name__) from error

    def _xml_reply(self, request: Request, message: BaseMessage, text: str) -> HTTPResponse:
        xml = render_passive_text(message.target, message.source, text)
        if self.crypto is not None and request.args.get("encrypt_type", "").lower() == "aes":
            xml = self.crypto.encrypt_message(xml, request.args.get("nonce", ""), str(int(time.time())))
        return response.text(xml, content_type="application/xml")

    async def _receive(self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        if not self._signed(request):
            return response.text("invalid signature", status=403)
        if len(request.body or b"") > MAX_BODY_BYTES:
            return response.text("message too large", status=413)
        try:
            message = parse_incoming(self._open(request))
        except InvalidSignatureException:
            return response.text("invalid msg_signature", status=403)
        except MalformedMessage as error:
            logger.info("wechat: malformed message (%s)", error)
            return response.text("malformed message", status=400)
        if not ids.valid_native(message.source):
            return response.text("malformed message", status=400)
        if self._replayed(request, message):
            logger.warning("wechat: a replayed request (nonce used before) refused")
            return response.text("replayed request", status=403)

        inbound = inbound_from(message)
        if inbound.answer:
            return self._xml_reply(request, message, inbound.answer)
        if inbound.text is None and inbound.media_id is None:
            return response.text("success")
        try:
            first = self.client.state.claim_message(CHANNEL, message_key(message))
        except Exception:  # answering twice beats losing the message
            logger.exception("wechat: could not claim a message, processing it anyway")
            first = True
        if not first:
            logger.info("wechat: dropped a resend of %s", message_key(message))
            return response.text("success")

        identity = ids.Identity(ids.WECHAT, message.source)
        output = _RequestOutput(self.client)
        turn: Awaitable[None]
        if inbound.media_id is not None:
            turn = self._photo(on_new_message, identity, inbound.media_id, inbound.metadata, output)
        else:
            text = inbound.text or ""
            if inbound.menu_id:
                text = self.client.menu_payload(inbound.menu_id) or text
            try:
                incoming = user_message(identity, text, output, connector=self.name(),
                                        message_id=inbound.metadata.get("msg_id"),
                                        metadata={"wechat": inbound.metadata})
            except texts.BadText as bad:
                return self._xml_reply(request, message, TOO_LONG if bad.reason == "too_long" else UNSUPPORTED)
            turn = self._run(on_new_message, incoming, output)
        task = asyncio.ensure_future(turn)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        done, _ = await asyncio.wait({task}, timeout=self.reply_deadline)
        if task in done:
            reply = passive_text([m for _, m in output.held])
            if reply is not None:
                output.held = []
                self._record_passive(identity.conversation_id)
                return self._xml_reply(request, message, reply)
        output.release()
        if output.worker is not None:
            self._tasks.add(output.worker)
            output.worker.add_done_callback(self._tasks.discard)
        return response.text("success")

    async def _run(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage,
                   output: _RequestOutput) -> None:
        try:
            await on_new_message(message)
        except Exception:  # the shopper gets an apology, not silence
            logger.exception("wechat: the bot failed on a message from %s", ids.for_log(message.sender_id))
            await output.send_text_message(message.sender_id, APOLOGY)
        finally:
            output.finish()

    async def _photo(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], identity: ids.Identity,
                     media_id: str, metadata: Dict[str, Any], output: _RequestOutput) -> None:
        """The turn of an image message: fetch it by MediaId, give it to the
        intake, then Rasa hears ``/send_photo`` like a typed message. A
        refused photo is answered politely in both languages (WeChat does
        not tell the shopper's) and Rasa hears nothing. It runs under the
        reply deadline like any turn: a passive answer when in time, a
        customer-service message otherwise."""
        conversation = identity.conversation_id
        try:
            limit = intake().max_bytes
            try:
                data = await self.client.media(media_id, limit)
                await asyncio.to_thread(intake().receive, conversation, CHANNEL, data)
            except Refused as refused:
                reason = refused.reason
            except Exception as error:  # the media API, the network or the evidence store is away
                logger.warning("wechat: a photo of %s could not be fetched or kept: %s", ids.for_log(conversation),
                               type(error).__name__)
                reason = "unavailable"
            else:
                message = user_message(identity, PHOTO_TEXT, output, connector=self.name(),
                                       message_id=metadata.get("msg_id"), metadata={"wechat": metadata})
                await self._run(on_new_message, message, output)
                return
            logger.info("wechat: a photo of %s refused: %s", ids.for_log(conversation), reason)
            await output.send_text_message(conversation, refusal(reason, limit))
        finally:
            output.finish()  # the held replies may go (finishing twice is harmless)

    def _record_passive(self, conversation_id: str) -> None:
        try:
            self.client.state.record_delivery(CHANNEL, conversation_id, True, 1, None)
        except Exception:  # recording must not break the answer
            logger.exception("wechat: could not record a passive reply")

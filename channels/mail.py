"""E-mail channel: Kefu answers a shop mailbox.

An IMAP poller (stdlib ``imaplib`` run in a worker thread: no extra
dependency, and a blocking call cannot stall Rasa's event loop) reads the
UNSEEN mails of INBOX every ``poll_seconds``; every bot answer to one incoming
mail goes back in ONE reply mail, sent by SMTP (``aiosmtplib``) in the same
thread. The module is named ``mail`` so that it never shadows the standard
library's ``email`` package.

Conversations. A conversation is one thread with one participant. A mail
continues a conversation only when it replies to a Message-ID the shop
itself sent in it (``email_messages``: unguessable ids of ours, where the
shopper's own ids may be known to anyone CC'd) AND comes from the address
that conversation answers; anything else starts a new conversation,
``mail:<keyed hash of the mail's Message-ID and From>``, so a proof of
ownership never carries to a new participant. Replies go to the From
address only, never to a ``Reply-To`` (which would let anyone make the shop
mail a third party), and at most ``MAX_REPLIES_PER_HOUR`` to one address.
The address is never passed to the dialogue and never links the
conversation to a shop customer: a From header can be forged, so an e-mail
shopper proves an order with the order id and the phone digits like anyone
else.

Loops and repeats. No reply to auto-replies, bounces, mailing lists or our
own mails (:func:`skip_reason`); our replies carry ``Auto-Submitted:
auto-replied`` (RFC 3834) so that well-behaved robots do not answer them.
Each mail is claimed by Message-ID in the shared ``message_claims`` table
before its turn runs, so it is answered once across polls, processes and
restarts.

Failure decision. The claim is final once the turn has run: feeding the same
mail to the dialogue twice would, for example, count one wrong phone-digit
guess twice. When the reply cannot be sent (``send_with_retry`` gave up), the
failure is recorded in ``deliveries`` and the incoming mail is flagged
``\\Flagged`` in INBOX, so nothing is lost: an agent sees the flagged mail
and can answer through Rasa's API (``output_channel=latest`` uses
:meth:`MailInput.get_output_channel`, which finds the thread's subject and
references in ``email_threads``).

Buttons. A mail cannot hold buttons: they are a numbered list (text part) and
list items (HTML part, never mailto links). The options offered are kept per
conversation (``channel_tokens``, 7 days) so that a reply "2" or the option's
words sends the button's payload back as the user message.
"""
from __future__ import annotations

import asyncio
import hashlib
import html
import imaplib
import json
import logging
import re
import ssl
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage, Message
from email.utils import formatdate, make_msgid, parseaddr
from html.parser import HTMLParser
from typing import Any, Awaitable, Callable, Dict, List, Optional, Sequence, Text, Tuple

import aiosmtplib
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.delivery import PermanentSendError, send_with_retry
from channels.edge import user_message
from kefu.core import ids, text as texts
from kefu.core.clock import utcnow
from kefu.privacy import redact
from kefu.store.channel_state import ChannelState, Thread, channel_state
from kefu.store.limits import Limit, Limits

logger = logging.getLogger(__name__)

CHANNEL = "email"
#: mails larger than this are not downloaded; the shopper gets a polite answer
MAX_MAIL_BYTES = 5 * 1024 * 1024
#: longer texts (after quote stripping) are not given to the dialogue
MAX_TEXT_CHARS = 4000
#: mails handled per poll, so one flood cannot hold the poller forever
MAX_PER_POLL = 50
BUTTONS_TTL = timedelta(days=7)
#: reply mails to one address per hour: the shop's address is never a way to
#: flood someone's inbox
MAX_REPLIES_PER_HOUR = 20
REPLY_LIMIT = Limit("mail_reply", MAX_REPLIES_PER_HOUR, timedelta(hours=1))

TOO_LONG_REPLY = (
    "您的邮件太长了，请用几句话描述您的问题，我们马上为您处理。\n"
    "Your message is too long: please describe your question in a few sentences."
)
EMPTY_REPLY = (
    "我们没有看到邮件的内容，请直接在邮件正文里写下您的问题。\n"
    "Your e-mail seems to be empty: please write your question in the message body."
)
TOO_LARGE_REPLY = (
    "邮件太大（附件暂不支持），请直接在正文里用文字描述您的问题。\n"
    "Your e-mail is too large (attachments are not supported): please describe your question in the text."
)
BUTTON_HINT = "（回复编号或选项文字即可 · reply with the number or the words）"


# ---------------------------------------------------------------- configuration


def _flag(value: Any, default: bool) -> bool:
    """Booleans from credentials.yml arrive as strings when they come from
    ${ENV_VAR}."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class MailConfig:
    address: str
    imap_host: str
    imap_user: str
    imap_password: str = field(repr=False)
    smtp_host: str
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    imap_port: int = 993
    imap_ssl: bool = True
    smtp_port: int = 587
    smtp_starttls: bool = True
    poll_seconds: float = 30.0

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any]) -> "MailConfig":
        missing = [k for k in ("address", "imap_host", "imap_user", "imap_password", "smtp_host")
                   if not credentials.get(k)]
        if missing:
            raise ValueError(f"e-mail channel: missing credentials {', '.join(missing)}")
        imap_ssl = _flag(credentials.get("imap_ssl"), True)
        return cls(
            address=str(credentials["address"]).strip(),
            imap_host=str(credentials["imap_host"]),
            imap_port=int(credentials.get("imap_port") or (993 if imap_ssl else 143)),
            imap_user=str(credentials["imap_user"]),
            imap_password=str(credentials["imap_password"]),
            imap_ssl=imap_ssl,
            smtp_host=str(credentials["smtp_host"]),
            smtp_port=int(credentials.get("smtp_port") or 587),
            smtp_user=str(credentials.get("smtp_user") or ""),
            smtp_password=str(credentials.get("smtp_password") or ""),
            smtp_starttls=_flag(credentials.get("smtp_starttls"), True),
            poll_seconds=float(credentials.get("poll_seconds") or 30),
        )


# ------------------------------------------------------------ pure functions


def short_hash(value: str, length: int = 16) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:length]


def _ids(header: Optional[str]) -> List[str]:
    """The <message-ids> of a References / In-Reply-To header, in order."""
    return re.findall(r"<[^<>\s]+>", header or "")


def conversation_id(message_id: str, sender: str) -> ids.Identity:
    """A new conversation for a mail that continues none of ours: keyed by
    its own Message-ID and its sender, so nobody else can land in it."""
    return ids.Identity(ids.MAIL, ids.keyed_hash(f"{message_id}\x00{sender}", "mail-thread"))


_RE_PREFIX = re.compile(r"^\s*(?:re|aw|sv|antw|回复|答复|回覆)\s*(?:\[\d+\])?\s*[:：]\s*", re.IGNORECASE)


def reply_subject(subject: Optional[str]) -> str:
    """'Re: Re: 回复：订单' -> 'Re: 订单': one Re:, never stacked."""
    text = _strip_re(subject or "")
    return f"Re: {text}" if text else "Re: 您的咨询"


def references_after(references: Optional[str], message_id: str) -> str:
    """The References of a reply to a mail: its References + its Message-ID."""
    ids = _ids(references)
    if message_id and message_id not in ids:
        ids.append(message_id)
    return " ".join(ids)


_ORIGINAL_MARKERS = [
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*原始邮件\s*-{2,}\s*$"),
    re.compile(r"^\s*-{2,}\s*(Forwarded message|转发的邮件)\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*\**发件人\**\s*[:：]"),
    re.compile(r"^\s*在.{0,200}写道\s*[:：]\s*$"),
    re.compile(r"^\s*On\b.{0,300}\bwrote\s*:\s*$", re.IGNORECASE),
    re.compile(r"^--\s*$"),  # signature separator ("-- ")
    re.compile(r"^\s*(Sent from my |发自我的)"),
    re.compile(r"^_{10,}\s*$"),  # Outlook's rule above the quoted mail
]
_OUTLOOK_FROM = re.compile(r"^\s*\**From\**\s*:", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\**(Sent|Date|To|Subject)\**\s*:", re.IGNORECASE)


def strip_quoted(text: str) -> str:
    """The shopper's own words: everything from the first quote header,
    forwarded block or signature on is dropped, and '>' lines anywhere."""
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if any(p.match(line) for p in _ORIGINAL_MARKERS):
            cut = i
            break
        # "On Mon, 1 Jan 2024, Kefu <a@b>\nwrote:" (the header wrapped)
        if re.match(r"^\s*On\b", line) and re.match(r"^.{0,200}\bwrote\s*:\s*$", nxt) and not line.rstrip().endswith("."):
            cut = i
            break
        if _OUTLOOK_FROM.match(line) and _OUTLOOK_NEXT.match(nxt):
            cut = i
            break
    kept = [line.rstrip() for line in lines[:cut] if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()


class _TextExtractor(HTMLParser):
    """HTML to plain text: block tags break lines, quoted blocks, scripts and
    styles are dropped."""

    _SKIP = {"script", "style", "head", "title", "blockquote"}
    _BREAK = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: List[str] = []
        self.skipping = 0

    def _break(self) -> None:
        """One line break between blocks, however many tags close and open."""
        if self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag == "br" and not self.skipping:
            self.parts.append("\n")
        elif tag in self._BREAK:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BREAK and tag != "br":
            self._break()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    try:
        parser.feed(markup or "")
        parser.close()
    except Exception:  # noqa: BLE001 - broken HTML still gives what was read
        pass
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _decode_part(part: Message) -> str:
    payload = part.get_payload(decode=True) or b""
    charset = (part.get_content_charset() or "utf-8").lower()
    if charset in {"gb2312", "gbk", "x-gbk", "gb_2312-80"}:
        charset = "gb18030"  # what Chinese clients actually send under these labels
    try:
        return payload.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return payload.decode("utf-8", errors="replace")


def body_text(message: Message) -> str:
    """The first text/plain part, else the first text/html converted to text;
    attachments are ignored."""
    plain: Optional[str] = None
    markup: Optional[str] = None
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = _decode_part(part)
        elif kind == "text/html" and markup is None:
            markup = _decode_part(part)
    if plain is not None and plain.strip():
        return plain
    return html_to_text(markup) if markup else (plain or "")


def _address(header: Optional[str]) -> str:
    return parseaddr(str(header or ""))[1].strip().lower()


def skip_reason(message: Message, own_address: str) -> Optional[str]:
    """Why this mail must get no reply (None: answer it). Answering robots,
    bounces, lists or ourselves would start a mail loop or spam a list."""
    own = own_address.strip().lower()
    sender = _address(message.get("From"))
    auto = str(message.get("Auto-Submitted") or "").strip().lower()
    if auto and not auto.startswith("no"):
        return "auto-submitted"
    if str(message.get("Precedence") or "").strip().lower() in {"bulk", "junk", "list"}:
        return "precedence"
    if message.get("List-Id") is not None or message.get("List-Unsubscribe") is not None:
        return "mailing-list"
    if message.get("X-Autoreply") is not None or message.get("X-Autorespond") is not None:
        return "auto-reply"
    if str(message.get("Return-Path") or "").strip() == "<>":
        return "bounce"
    if message.get_content_type() == "multipart/report":
        return "bounce"
    if not sender or "@" not in sender:
        return "no-sender"
    if sender.split("@", 1)[0] in {"mailer-daemon", "postmaster"}:
        return "bounce"
    if sender == own or _address(message.get("Reply-To")) == own or message.get("X-Kefu-Reply") is not None:
        return "self"
    return None


@dataclass(frozen=True)
class IncomingMail:
    """What the channel needs of one received mail."""

    message_id: str
    sender: str  # the From address: the only one the shop replies to
    subject: str
    references: str
    in_reply_to: str
    text: str
    skip: Optional[str]

    def parents(self) -> List[str]:
        """The Message-IDs this mail answers, oldest first."""
        return _ids(self.references) + [m for m in _ids(self.in_reply_to) if m not in _ids(self.references)]


def parse_mail(raw: bytes, own_address: str) -> IncomingMail:
    """Parse a raw RFC 5322 mail. A mail without Message-ID gets a stable one
    from its content, so a re-fetch is still recognised."""
    message = message_from_bytes(raw, policy=email_policy.compat32)
    ids = _ids(str(message.get("Message-ID") or ""))
    message_id = ids[0] if ids else f"<{short_hash(raw.decode('latin-1'), 32)}@kefu.invalid>"
    subject = _header_text(message.get("Subject"))
    return IncomingMail(
        message_id=message_id,
        sender=_address(message.get("From")),
        subject=subject,
        references=" ".join(_ids(_header_text(message.get("References")))),
        in_reply_to=" ".join(_ids(_header_text(message.get("In-Reply-To")))),
        text=strip_quoted(body_text(message)),
        skip=skip_reason(message, own_address),
    )


def _header_text(value: Any) -> str:
    """A header as text, RFC 2047 encoded words (=?gb2312?B?...?=) decoded."""
    if value is None:
        return ""
    from email.header import decode_header, make_header

    try:
        return str(make_header(decode_header(str(value))))
    except Exception:  # noqa: BLE001 - a broken encoded word is shown raw
        return str(value)


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return re.sub(r"[\s\W_]+", "", text)


def match_option(text: str, options: Sequence[Dict[str, str]]) -> Optional[str]:
    """The payload of the option the shopper picked by number ("2", "２.")
    or by its words ("转人工"); None when the reply is something else."""
    answer = _norm(text.split("\n", 1)[0]) if text.strip() else ""
    if not answer or not options:
        return None
    if answer.isdigit():
        index = int(answer) - 1
        return options[index]["payload"] if 0 <= index < len(options) else None
    for option in options:
        if _norm(option.get("title", "")) == answer:
            return option["payload"]
    return None


_URL = re.compile(r"https?://[^\s<>\"']+")


def _html_text(text: str) -> str:
    escaped = html.escape(text or "")
    linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
    return linked.replace("\n", "<br>\n")


def render_reply(messages: Sequence[Dict[str, Any]]) -> Tuple[str, str, List[Dict[str, str]]]:
    """Bot messages (Rasa's dicts: text, buttons, image, attachment) as the
    text part, the HTML part and the numbered options, numbered across the
    whole mail so that every number means one thing."""
    text_blocks: List[str] = []
    html_blocks: List[str] = []
    options: List[Dict[str, str]] = []
    for message in messages:
        text, html_parts = [], []
        if message.get("text"):
            text.append(str(message["text"]))
            html_parts.append(f"<p>{_html_text(str(message['text']))}</p>")
        buttons = message.get("buttons") or message.get("quick_replies") or []
        if buttons:
            items = []
            for button in buttons:
                title = str(button.get("title") or button.get("payload") or "")
                url = button.get("url") if button.get("type") == "web_url" else None
                payload = str(button.get("payload") or title)
                if url:
                    text.append(f"- {title}: {url}")
                    items.append(f'<li><a href="{html.escape(str(url), quote=True)}">{html.escape(title)}</a></li>')
                    continue
                options.append({"title": title, "payload": payload})
                text.append(f"{len(options)}. {title}")
                items.append(f"<li value=\"{len(options)}\">{html.escape(title)}</li>")
            html_parts.append("<ol>" + "".join(items) + "</ol>")
        if message.get("image"):
            url = str(message["image"])
            text.append(url)
            html_parts.append(f'<p><img src="{html.escape(url, quote=True)}" alt="" style="max-width:100%"></p>')
        if message.get("attachment"):
            attachment = message["attachment"]
            url = attachment.get("payload", {}).get("src") if isinstance(attachment, dict) else str(attachment)
            if url:
                text.append(str(url))
                html_parts.append(f'<p><a href="{html.escape(str(url), quote=True)}">{html.escape(str(url))}</a></p>')
        if text:
            text_blocks.append("\n".join(text))
            html_blocks.append("\n".join(html_parts))
    if options:
        text_blocks.append(BUTTON_HINT)
        html_blocks.append(f"<p style=\"color:#888\">{html.escape(BUTTON_HINT)}</p>")
    body_html = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="font-family:sans-serif">' + "\n".join(html_blocks) + "</body></html>"
    )
    return "\n\n".join(text_blocks) + "\n", body_html, options


def build_reply(address: str, thread: Thread, messages: Sequence[Dict[str, Any]],
                message_id: Optional[str] = None) -> Tuple[EmailMessage, List[Dict[str, str]]]:
    """The reply mail in ``thread`` (text + HTML alternatives) and the
    numbered options it offers."""
    text, body_html, options = render_reply(messages)
    mail = EmailMessage()
    mail["From"] = address
    mail["To"] = thread.address
    mail["Subject"] = thread.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = message_id or make_msgid(domain=address.rsplit("@", 1)[-1])
    if thread.last_message_id:
        mail["In-Reply-To"] = thread.last_message_id
    if thread.references:
        mail["References"] = thread.references
    mail["Auto-Submitted"] = "auto-replied"
    mail["X-Kefu-Reply"] = "1"
    mail.set_content(text, charset="utf-8")
    mail.add_alternative(body_html, subtype="html", charset="utf-8")
    return mail, options


# ------------------------------------------------------------------- channel


class MailOutput(OutputChannel):
    """Collects a turn's bot messages; :meth:`flush` sends them as one reply
    mail. Usable outside a request (agent pushes): with ``collect=False``
    every message is sent at once, in the thread saved for the conversation."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    def __init__(self, config: MailConfig, collect: bool = False, state: Optional[ChannelState] = None,
                 retry_delay: float = 0.5) -> None:
        self.config = config
        self.collect = collect
        self._state = state
        self.retry_delay = retry_delay
        self.messages: List[Dict[str, Any]] = []

    @property
    def state(self) -> ChannelState:
        return self._state or channel_state()

    async def _add(self, recipient_id: Text, message: Dict[str, Any]) -> None:
        self.messages.append(message)
        if not self.collect:
            await self.flush(recipient_id)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._add(recipient_id, {"text": text})

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: List[Dict[str, Any]],
                                     **kwargs: Any) -> None:
        await self._add(recipient_id, {"text": text, "buttons": buttons})

    async def send_quick_replies(self, recipient_id: Text, text: Text, quick_replies: List[Dict[str, Any]],
                                 **kwargs: Any) -> None:
        await self._add(recipient_id, {"text": text, "buttons": quick_replies})

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._add(recipient_id, {"image": image})

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        await self._add(recipient_id, {"attachment": attachment})

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[str, Any], **kwargs: Any) -> None:
        """Custom payloads have no e-mail form; a text inside is still sent."""
        if isinstance(json_message, dict) and json_message.get("text"):
            await self._add(recipient_id, {"text": str(json_message["text"])})

    async def flush(self, recipient_id: Text) -> Optional[bool]:
        """Send the collected messages as one mail; True when sent, False when
        it failed (recorded), None when there was nothing to send."""
        messages, self.messages = self.messages, []
        if not messages:
            return None
        return await self.send_mail(recipient_id, messages)

    async def send_mail(self, conversation: str, messages: Sequence[Dict[str, Any]]) -> bool:
        identity = ids.parse(conversation)
        thread = self.state.get_thread(conversation) if identity and identity.channel == ids.MAIL else None
        if thread is None:
            logger.warning("e-mail: no thread for conversation %s, reply not sent", ids.for_log(conversation))
            self.state.record_delivery(CHANNEL, conversation, False, 0, "no e-mail thread for this conversation")
            return False
        if not Limits(self.state.engine).allow(REPLY_LIMIT, ids.keyed_hash(thread.address, "mail-recipient")):
            logger.warning("e-mail: %d replies to one address this hour, no more", MAX_REPLIES_PER_HOUR)
            self.state.record_delivery(CHANNEL, conversation, False, 0, "reply limit per recipient reached")
            return False
        mail, options = build_reply(self.config.address, thread, messages)

        async def send() -> Any:
            try:
                return await aiosmtplib.send(
                    mail,
                    hostname=self.config.smtp_host,
                    port=self.config.smtp_port,
                    username=self.config.smtp_user or None,
                    password=self.config.smtp_password or None,
                    use_tls=self.config.smtp_port == 465,
                    start_tls=False if self.config.smtp_port == 465 else self.config.smtp_starttls,
                    timeout=30,
                )
            except aiosmtplib.SMTPRecipientsRefused as error:
                raise PermanentSendError(f"recipient refused: {redact(str(error))}") from error
            except aiosmtplib.SMTPResponseException as error:
                if 500 <= error.code < 600:
                    raise PermanentSendError(f"SMTP {error.code}: {redact(error.message)}") from error
                raise

        sent = await send_with_retry(send, channel=CHANNEL, recipient=thread.address,
                                     base_delay=self.retry_delay, state=self.state)
        if sent is None:
            return False
        # a reply to this mail continues the conversation; the next mail of
        # the thread (an agent's push) follows it
        self.state.remember_mail(mail["Message-ID"], conversation)
        self.state.save_thread(Thread(thread.conversation_id, thread.address, thread.subject,
                                      mail["Message-ID"], references_after(thread.references, mail["Message-ID"])))
        self.state.put_token(_options_key(conversation), json.dumps(options, ensure_ascii=False),
                             utcnow() + BUTTONS_TTL)
        return True


def _options_key(conversation: str) -> str:
    return f"email-options:{conversation}"[:64]


class ImapMailbox:
    """Blocking IMAP calls (run in a worker thread by the poller): one
    connection per poll, UNSEEN mails of INBOX fetched without marking them
    seen (BODY.PEEK), flags set once a mail is handled."""

    def __init__(self, config: MailConfig) -> None:
        self.config = config
        self.imap: Optional[imaplib.IMAP4] = None

    def open(self) -> None:
        if self.config.imap_ssl:
            self.imap = imaplib.IMAP4_SSL(self.config.imap_host, self.config.imap_port,
                                          ssl_context=ssl.create_default_context(), timeout=30)
        else:
            self.imap = imaplib.IMAP4(self.config.imap_host, self.config.imap_port, timeout=30)
        self.imap.login(self.config.imap_user, self.config.imap_password)
        typ, _ = self.imap.select("INBOX")
        if typ != "OK":
            raise imaplib.IMAP4.error("cannot select INBOX")

    def close(self) -> None:
        if self.imap is not None:
            try:
                self.imap.logout()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass
            self.imap = None

    def unseen(self, limit: int = MAX_PER_POLL) -> List[bytes]:
        assert self.imap is not None
        typ, data = self.imap.uid("SEARCH", None, "UNSEEN")
        if typ != "OK":
            raise imaplib.IMAP4.error("UID SEARCH failed")
        return (data[0] or b"").split()[:limit]

    def fetch(self, uid: bytes) -> Tuple[Optional[bytes], bool]:
        """(the raw mail, False), or (its header only, True) when it is larger
        than MAX_MAIL_BYTES; (None, False) when it vanished."""
        assert self.imap is not None
        typ, data = self.imap.uid("FETCH", uid, "(RFC822.SIZE)")
        size_match = re.search(rb"RFC822\.SIZE (\d+)", b" ".join(d if isinstance(d, bytes) else d[0] for d in data if d))
        too_large = bool(size_match) and int(size_match.group(1)) > MAX_MAIL_BYTES
        typ, data = self.imap.uid("FETCH", uid, "(BODY.PEEK[HEADER])" if too_large else "(BODY.PEEK[])")
        if typ != "OK":
            return None, False
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                return item[1], too_large
        return None, False

    def flag(self, uid: bytes, flags: str) -> None:
        assert self.imap is not None
        self.imap.uid("STORE", uid, "+FLAGS", f"({flags})")


class MailInput(InputChannel):
    """Polls the shop's mailbox while Rasa's server runs."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "MailInput":
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(MailConfig.from_credentials(credentials))

    def __init__(self, config: MailConfig, state: Optional[ChannelState] = None, retry_delay: float = 0.5) -> None:
        self.config = config
        self._state = state
        self.retry_delay = retry_delay
        self._task: Optional[asyncio.Task] = None
        self._stop: Optional[asyncio.Event] = None

    @property
    def state(self) -> ChannelState:
        return self._state or channel_state()

    def get_output_channel(self) -> OutputChannel:
        """For replies pushed later (an agent, a reminder): one mail per
        message, in the conversation's saved thread."""
        return MailOutput(self.config, collect=False, state=self._state, retry_delay=self.retry_delay)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        mail_webhook = Blueprint("email_webhook", __name__)

        @mail_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            running = self._task is not None and not self._task.done()
            return response.json({"status": "ok", "polling": running})

        # after_server_start, not before: Rasa loads the agent in a
        # before_server_start listener registered after the channels', so
        # only now can a polled mail be handled.
        @mail_webhook.listener("after_server_start")
        async def start_polling(_app: Any, _loop: Any) -> None:
            self.start(on_new_message)

        @mail_webhook.listener("before_server_stop")
        async def stop_polling(_app: Any, _loop: Any) -> None:
            await self.stop()

        return mail_webhook

    def start(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        if self._task is None or self._task.done():
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._poll_forever(on_new_message))
            logger.info("e-mail poller started (every %.1f s)", self.config.poll_seconds)

    async def stop(self) -> None:
        """Let the current poll finish (a turn is never cut in half), then
        end; cancelled if it hangs."""
        if self._task is None:
            return
        assert self._stop is not None
        self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=60)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            self._task.cancel()
        except Exception:  # noqa: BLE001
            logger.exception("e-mail poller ended with an error")
        self._task = None
        logger.info("e-mail poller stopped")

    async def _poll_forever(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        assert self._stop is not None
        while not self._stop.is_set():
            try:
                await self.poll_once(on_new_message)
            except Exception as error:  # noqa: BLE001 - the mailbox may be down for a while
                logger.warning("e-mail poll failed: %s", redact(str(error)))
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.config.poll_seconds)
            except asyncio.TimeoutError:
                pass

    async def poll_once(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> int:
        """Handle the UNSEEN mails of INBOX; returns how many were answered."""
        mailbox = ImapMailbox(self.config)
        await asyncio.to_thread(mailbox.open)
        answered = 0
        try:
            for uid in await asyncio.to_thread(mailbox.unseen):
                if self._stop is not None and self._stop.is_set():
                    break
                raw, too_large = await asyncio.to_thread(mailbox.fetch, uid)
                if raw is None:
                    continue
                flags = await self.handle_mail(raw, on_new_message, too_large=too_large)
                if flags is True:
                    answered += 1
                await asyncio.to_thread(mailbox.flag, uid, "\\Seen" if flags is not False else "\\Seen \\Flagged")
        finally:
            await asyncio.to_thread(mailbox.close)
        return answered

    async def handle_mail(self, raw: bytes, on_new_message: Callable[[UserMessage], Awaitable[Any]],
                          too_large: bool = False) -> Optional[bool]:
        """One mail: True when answered, False when the answer (or the turn)
        failed and an agent must look, None when it needs no answer."""
        mail = parse_mail(raw, self.config.address)
        key = short_hash(mail.message_id)
        if mail.skip:
            logger.info("e-mail %s not answered: %s", key, mail.skip)
            return None
        if not self.state.claim_message(CHANNEL, mail.message_id):
            logger.info("e-mail %s already handled", key)
            return None
        identity = self.conversation_for(mail)
        conversation = identity.conversation_id
        self.state.save_thread(Thread(conversation, mail.sender, reply_subject(mail.subject),
                                      mail.message_id, references_after(mail.references, mail.message_id)))
        output = MailOutput(self.config, collect=True, state=self._state, retry_delay=self.retry_delay)
        # a first mail may say it all in its subject ("订单2611010000000001到哪了")
        text = mail.text or ("" if mail.references else _strip_re(mail.subject))
        payload = match_option(text, self._options(conversation))
        polite: Optional[str] = TOO_LARGE_REPLY if too_large else None
        message: Optional[UserMessage] = None
        if polite is None:
            try:
                message = user_message(identity, payload or text, output, connector=CHANNEL, max_chars=MAX_TEXT_CHARS,
                                       metadata={"email": {"message": key, "option": payload is not None}})
            except texts.BadText as bad:
                polite = TOO_LONG_REPLY if bad.reason == "too_long" else EMPTY_REPLY
        if message is None:  # answered, but the conversation is not touched
            return await output.send_mail(conversation, [{"text": polite or EMPTY_REPLY}])
        try:
            await on_new_message(message)
        except Exception:  # noqa: BLE001 - the mail is flagged for an agent
            logger.exception("e-mail %s: the turn failed", key)
            output.messages.clear()
            self.state.record_delivery(CHANNEL, conversation, False, 0, "the dialogue failed on this mail")
            return False
        sent = await output.flush(conversation)
        return sent is not False

    def conversation_for(self, mail: IncomingMail) -> ids.Identity:
        """The conversation this mail continues (it replies to a mail the
        shop sent there, from the address that conversation answers), else
        a new one of its own."""
        known = self.state.conversation_of_mail(mail.parents())
        if known is not None:
            thread = self.state.get_thread(known)
            if thread is not None and thread.address == mail.sender:
                return ids.parse(known) or conversation_id(mail.message_id, mail.sender)
            logger.info("e-mail %s: another participant in a thread, a conversation of its own",
                        short_hash(mail.message_id))
        return conversation_id(mail.message_id, mail.sender)

    def _options(self, conversation: str) -> List[Dict[str, str]]:
        try:
            return json.loads(self.state.get_token(_options_key(conversation), margin=timedelta(0)) or "[]")
        except ValueError:
            return []


def _strip_re(subject: str) -> str:
    """'Re: Re: 订单到哪了' -> '订单到哪了' ('' for an empty subject)."""
    text = " ".join((subject or "").split())
    while True:
        stripped = _RE_PREFIX.sub("", text, count=1)
        if stripped == text:
            return text
        text = stripped


# credentials.yml names the class by module path: channels.mail.MailInput
__all__ = ["MailInput", "MailOutput", "MailConfig", "parse_mail", "strip_quoted", "skip_reason",
           "reply_subject", "conversation_id", "render_reply", "build_reply", "match_option",
           "html_to_text"]

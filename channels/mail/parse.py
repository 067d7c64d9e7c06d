"""Reading a received mail: raw RFC 5322 bytes to an :class:`IncomingMail`.

What the shopper wrote (quoted replies, forwarded blocks and signatures
stripped, HTML turned to text, GB2312/GBK read as the GB18030 that Chinese
clients actually send), which Message-IDs it answers (References and
In-Reply-To, which the poller matches against the ids the shop itself sent)
and whether it must get no reply at all: no reply to auto-replies, bounces,
mailing lists or our own mails (:func:`skip_reason`), since answering them
would start a mail loop or spam a list. :func:`photo_attachments` takes the
image attachments out as raw bytes for the evidence intake, which checks
them itself: a filename is a hint, never trusted and never kept.
:func:`match_option` reads a reply "2" or an option's words back as the
button's payload. Pure functions only: no server, no state.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message
from email.utils import parseaddr
from html.parser import HTMLParser
from typing import Any, Dict, List, Optional, Sequence, Tuple

from kefu.core import responses
from kefu.core.config import EvidenceOptions

#: image attachments looked at per mail; more are ignored (and counted)
MAX_PHOTOS_PER_MAIL = 6
#: a part sent as application/octet-stream is a candidate photo only with one
#: of these endings (its bytes are checked by the intake anyway)
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")


def short_hash(value: str, length: int = 16) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:length]


def _ids(header: Optional[str]) -> List[str]:
    """The <message-ids> of a References / In-Reply-To header, in order."""
    return re.findall(r"<[^<>\s]+>", header or "")


_RE_PREFIX = re.compile(r"^\s*(?:re|aw|sv|antw|回复|答复|回覆)\s*(?:\[\d+\])?\s*[:：]\s*", re.IGNORECASE)


def reply_subject(subject: Optional[str]) -> str:
    """'Re: Re: 回复：订单' -> 'Re: 订单': one Re:, never stacked."""
    text = strip_re(subject or "")
    return f"Re: {text or responses.both('utter_notice_mail_subject', separator=' / ')}"


def strip_re(subject: str) -> str:
    """'Re: Re: 订单到哪了' -> '订单到哪了' ('' for an empty subject)."""
    text = " ".join((subject or "").split())
    while True:
        stripped = _RE_PREFIX.sub("", text, count=1)
        if stripped == text:
            return text
        text = stripped


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
        if (re.match(r"^\s*On\b", line) and re.match(r"^.{0,200}\bwrote\s*:\s*$", nxt)
                and not line.rstrip().endswith(".")):
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
    except Exception:  # broken HTML still gives what was read
        pass
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _decode_part(part: Message) -> str:
    decoded = part.get_payload(decode=True)  # bytes; None for a multipart (never a Message when decoding)
    payload = decoded if isinstance(decoded, bytes) else b""
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
    photos: "Photos" = field(default_factory=lambda: Photos())

    def parents(self) -> List[str]:
        """The Message-IDs this mail answers, oldest first."""
        return _ids(self.references) + [m for m in _ids(self.in_reply_to) if m not in _ids(self.references)]


@dataclass(frozen=True)
class Photos:
    """The image attachments of a mail: the bytes of those worth handing to
    the intake, the refusal reasons of those refused here already (too big:
    their bytes are not kept) and how many were ignored past the cap."""

    kept: Tuple[bytes, ...] = field(default=(), repr=False)
    refused: Tuple[str, ...] = ()
    ignored: int = 0

    def __bool__(self) -> bool:
        return bool(self.kept or self.refused or self.ignored)


def _is_photo_part(part: Message) -> bool:
    """An attached or inline image, or an octet-stream whose filename ends
    like one: the only use of a filename, as a hint."""
    if part.is_multipart() or part.get_content_disposition() not in ("attachment", "inline"):
        return False
    kind = part.get_content_type()
    if kind.startswith("image/"):
        return True
    if kind != "application/octet-stream":
        return False
    try:
        name = part.get_filename() or ""
    except Exception:  # a broken RFC 2231 name is no hint
        return False
    return name.strip().lower().endswith(PHOTO_SUFFIXES)


def _decoded_size_above(part: Message, max_bytes: int) -> bool:
    """Whether a base64 part certainly decodes to more than ``max_bytes``,
    judged from its encoded length, so a huge one is never decoded."""
    if str(part.get("Content-Transfer-Encoding") or "").strip().lower() != "base64":
        return False
    encoded = part.get_payload()
    if not isinstance(encoded, str):
        return False
    letters = len(encoded) - sum(encoded.count(c) for c in "\r\n\t ")
    return letters * 3 // 4 > max_bytes + 3


def _photo_bytes(part: Message, max_bytes: int) -> Optional[bytes]:
    """The decoded bytes of a photo part, None when larger than ``max_bytes``."""
    if _decoded_size_above(part, max_bytes):
        return None
    decoded = part.get_payload(decode=True)
    data = decoded if isinstance(decoded, bytes) else b""
    return data if len(data) <= max_bytes else None


def photo_attachments(message: Message, max_bytes: int) -> Photos:
    """The mail's image attachments, at most MAX_PHOTOS_PER_MAIL of them
    looked at: bounded work and a bounded reply, whatever a mail carries."""
    kept: List[bytes] = []
    refused: List[str] = []
    ignored = 0
    for part in message.walk():
        if not _is_photo_part(part):
            continue
        if len(kept) + len(refused) >= MAX_PHOTOS_PER_MAIL:
            ignored += 1
            continue
        data = _photo_bytes(part, max_bytes)
        if data is None:
            refused.append("too_big")
        elif data:
            kept.append(data)
        else:
            refused.append("not_image")  # an empty part is no photo
    return Photos(tuple(kept), tuple(refused), ignored)


def parse_mail(raw: bytes, own_address: str, max_photo_bytes: int = EvidenceOptions.max_bytes) -> IncomingMail:
    """Parse a raw RFC 5322 mail. A mail without Message-ID gets a stable one
    from its content, so a re-fetch is still recognised. Image attachments
    larger than ``max_photo_bytes`` are refused here, their bytes dropped."""
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
        photos=photo_attachments(message, max_photo_bytes),
    )


def _header_text(value: Any) -> str:
    """A header as text, RFC 2047 encoded words (=?gb2312?B?...?=) decoded."""
    if value is None:
        return ""
    from email.header import decode_header, make_header

    try:
        return str(make_header(decode_header(str(value))))
    except Exception:  # a broken encoded word is shown raw
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

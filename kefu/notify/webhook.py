"""``POST /shop/events``: the shop tells Kefu what happened to an order.

The request is hostile until its signature is checked: the shop signs
``<timestamp>.<body>`` with HMAC-SHA256 under ``KEFU_SHOP_WEBHOOK_SECRET``
and sends ``X-Kefu-Timestamp`` (Unix seconds) and ``X-Kefu-Signature:
sha256=<hex>``. The signature is compared in constant time; a timestamp
outside the window (a replay, or a clock far off) is refused; the body's
``id`` is the idempotency key and is signed with it, so a resent event is
answered ``duplicate`` and nothing happens twice. Body::

    {"id": "evt-20261202-0001", "type": "order.shipped",
     "order_id": "2611240000012345", "occurred_at": "2026-12-02T05:00:00Z",
     "data": {"carrier": "SF", "tracking_no": "SF1234567890"}}

Answers: 202 queued (or ``no_recipient``: nobody to tell), 200 duplicate,
400 malformed, 401 bad or missing signature or stale timestamp, 413 too
large, 422 an order or after-sale request Kefu does not know.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional

from aiohttp import web

from kefu.core.clock import utcnow
from kefu.store.models import NOTIFY_EVENT_TYPES
from kefu.store.notify import IncomingEvent, NotifyStore, UnknownOrder

MAX_BODY_BYTES = 16 * 1024
SIGNATURE_HEADER = "X-Kefu-Signature"
TIMESTAMP_HEADER = "X-Kefu-Timestamp"
_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")
_ORDER = re.compile(r"^\d{16}$")
#: data field -> its pattern (strings) or None (a non-negative integer)
_DATA_FIELDS: Dict[str, Optional["re.Pattern[str]"]] = {
    "carrier": re.compile(r"^[\w\- ]{1,32}$"),
    "tracking_no": re.compile(r"^[A-Za-z0-9\-]{1,32}$"),
    "aftersale_id": re.compile(r"^AS\d{8}$"),
    "amount_cents": None,
    "reason": re.compile(r"^[^\x00-\x1f]{1,200}$"),
    "description_zh": re.compile(r"^[^\x00-\x1f]{1,255}$"),
    "description_en": re.compile(r"^[^\x00-\x1f]{1,255}$"),
}


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature the shop sends (also what its SDK and our tests compute)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime, window_seconds: int) -> None:
    """Raise :class:`Refused` unless the body is signed with ``secret`` at a
    time within ``window_seconds`` of ``now``."""
    timestamp, signature = headers.get(TIMESTAMP_HEADER, ""), headers.get(SIGNATURE_HEADER, "")
    if not timestamp.isdigit() or not signature:
        raise Refused(401, "unsigned")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise Refused(401, "bad_signature")
    if abs(now.timestamp() - int(timestamp)) > window_seconds:
        raise Refused(401, "stale")


def parse(body: bytes, now: datetime) -> IncomingEvent:
    """The event in a signed body, every field checked; :class:`Refused` (400) otherwise."""
    try:
        content = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "not_json") from None
    if not isinstance(content, dict):
        raise Refused(400, "not_an_object")
    key, kind, order_id = content.get("id"), content.get("type"), content.get("order_id")
    if not isinstance(key, str) or not _KEY.match(key) or key.startswith("kefu-"):
        raise Refused(400, "bad_id")
    if kind not in NOTIFY_EVENT_TYPES:
        raise Refused(400, "bad_type")
    if not isinstance(order_id, str) or not _ORDER.match(order_id):
        raise Refused(400, "bad_order_id")
    return IncomingEvent(key, kind, order_id, _moment(content.get("occurred_at"), now), _data(content.get("data")))


def _moment(value: Any, now: datetime) -> datetime:
    if value is None:
        return now
    if not isinstance(value, str) or len(value) > 40:
        raise Refused(400, "bad_occurred_at")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(400, "bad_occurred_at") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _data(value: Any) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or any(name not in _DATA_FIELDS for name in value):
        raise Refused(400, "bad_data")
    for name, item in value.items():
        pattern = _DATA_FIELDS[name]
        if pattern is None:
            if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item <= 10**9:
                raise Refused(400, f"bad_{name}")
        elif not isinstance(item, str) or not pattern.match(item):
            raise Refused(400, f"bad_{name}")
    return dict(value)


def handler(store_of: Callable[[web.Request], NotifyStore], secret: str,
            window_seconds: int) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler of ``POST /shop/events`` (kefu.desk.app mounts it;
    ``store_of`` finds the app's store)."""

    async def shop_events(request: web.Request) -> web.Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _answer(413, "too_large")
        try:  # the whole body (one read() may return part of it); the app caps what it buffers
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _answer(413, "too_large")
        if len(body) > MAX_BODY_BYTES:
            return _answer(413, "too_large")
        now = utcnow()
        try:
            verify(secret, request.headers, body, now, window_seconds)
            event = parse(body, now)
            queued = await asyncio.to_thread(store_of(request).record_event, event, now)
        except Refused as refused:
            return _answer(refused.status, refused.reason)
        except UnknownOrder:
            return _answer(422, "unknown_order")
        if queued is None:
            return _answer(200, "duplicate")
        return _answer(202, "queued" if queued.status == "pending" else str(queued.reason))

    return shop_events


def _answer(status: int, outcome: str) -> web.Response:
    return web.json_response({"status": outcome}, status=status)

"""The REST channel: Rasa's URL and message format, checked like any input
from outside.

``POST /webhooks/rest/webhook`` with ``{"sender": "...", "message": "...",
"metadata": {...}}`` answers the bot's messages as a JSON list, as Rasa's
``RestInput`` does, but

* the sender is only a name the client chose: the conversation is
  ``rest:<sender>`` (``kefu.core.ids``), never a WeChat or Telegram one, and
  an ``input_channel`` in the body is ignored (it once let any client pass
  for a linked Telegram account);
* the body is validated: a JSON object of at most 16 KB with a ``sender``
  (no default conversation shared by every client that forgot it) and a
  text ``message`` of at most 2,000 characters; anything else is a 400 or
  413 with a reason, never a 500;
* a failure, or no answer outside a human handoff, is answered "please try
  again" (:func:`channels.edge.answering_failures`) instead of ``200 []``.

``credentials.yml`` names this class in place of Rasa's ``rest``; the
channel keeps Rasa's name, so URLs and trackers' ``input_channel`` stay.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.edge import TRY_AGAIN, answering_failures, user_message
from kefu.core import ids, text
from kefu.core.config import load_settings

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
MAX_METADATA_BYTES = 2048

Handler = Callable[[UserMessage], Awaitable[Any]]

__all__ = ["ReliableRestInput", "TRY_AGAIN", "parse_body", "BadRequest"]


class BadRequest(ValueError):
    """A request body that must be refused, with the HTTP status to say so."""

    def __init__(self, status: int, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.status, self.reason, self.details = status, reason, details


def parse_body(body: Optional[bytes]) -> Dict[str, Any]:
    """``sender``, ``message`` and ``metadata`` of a REST request, checked;
    raises :class:`BadRequest` for anything else."""
    if body is not None and len(body) > MAX_BODY_BYTES:
        raise BadRequest(413, "body_too_large", limit=MAX_BODY_BYTES)
    try:
        data = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(400, "not_json") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "not_an_object")
    sender = data.get("sender")
    if not isinstance(sender, str) or not sender.strip():
        raise BadRequest(400, "sender_required")
    if not ids.valid_native(sender) or len(sender) > 64:
        raise BadRequest(400, "bad_sender", allowed="1-64 of A-Z a-z 0-9 _ . @ + = -")
    metadata = data.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict)
                                 or len(json.dumps(metadata, ensure_ascii=False)) > MAX_METADATA_BYTES):
        raise BadRequest(400, "bad_metadata", limit=MAX_METADATA_BYTES)
    return {"sender": sender, "message": data.get("message"), "metadata": metadata or {}}


def _refusal(error: BadRequest) -> HTTPResponse:
    return response.json({"error": error.reason, **error.details}, status=error.status)


class ReliableRestInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        webhook = Blueprint("kefu_rest_webhook", __name__)
        handle = answering_failures(on_new_message)
        trusted_proxies = load_settings().trusted_proxies

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                fields = parse_body(request.body)
                identity = ids.Identity(ids.REST, fields["sender"])
                collector = CollectingOutputChannel()
                message = user_message(identity, fields["message"], collector, connector=self.name(),
                                       client_address=ids.client_address(request.ip, request.headers, trusted_proxies),
                                       metadata=fields["metadata"])
            except BadRequest as error:
                return _refusal(error)
            except text.BadText as bad:
                status = 413 if bad.reason == "too_long" else 400
                return _refusal(BadRequest(status, f"message_{bad.reason}", limit=text.MAX_MESSAGE_CHARS))
            await handle(message)
            # the client named the sender; it gets its own name back, not ours
            return response.json([{**m, "recipient_id": fields["sender"]} for m in collector.messages])

        return webhook

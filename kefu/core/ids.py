"""Who a message is from: the one place that makes and reads conversation ids.

The connector that received a message alone decides its channel and sender,
because only it verified the request: WeChat's signature, Telegram's webhook
secret, the widget's session token, the mailbox Kefu polls itself. A request
body never chooses either. Every conversation id is ``<channel>:<native id>``
(``telegram:10001``, ``wechat:<openid>``, ``web:<session>``, ``mail:<thread>``,
``rest:<sender>``), so no channel can name another channel's conversation,
and only the identities the platform vouches for (:data:`VOUCHED`) may stand
for a shop customer: a REST sender or a web session called "10001" is just a
stranger called "10001".

Ids are personal data (openids, e-mail threads, phone-like senders), so what
is stored beside them or logged is a keyed hash (:func:`conversation_key`,
:func:`for_log`): HMAC-SHA256 with a secret, not reversible by hashing
guesses the way a plain SHA-256 of a low-entropy id is.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence

from kefu.core.secrets import secret

#: Kefu's channels, each the prefix of its conversation ids
WEB, REST, TELEGRAM, WECHAT, MAIL = "web", "rest", "telegram", "wechat", "mail"
CHANNELS = (WEB, REST, TELEGRAM, WECHAT, MAIL)
#: channels whose sender id the platform vouches for: WeChat's openid comes in
#: a signed request, Telegram's chat id with the webhook secret
VOUCHED = frozenset({TELEGRAM, WECHAT})
#: Rasa connector name -> Kefu channel (connectors keep Rasa's names and URLs)
CONNECTORS: Dict[str, str] = {"webchat": WEB, "rest": REST, "telegram": TELEGRAM, "wechat": WECHAT, "email": MAIL}
#: what a native id may look like on any channel (openids, chat ids, hex
#: session and thread keys, REST senders): no spaces, no markup, bounded
_NATIVE = re.compile(r"^[A-Za-z0-9_.@+=\-]{1,128}$")
#: the metadata key only connectors write (clients' own metadata loses it)
TRUSTED_KEY = "kefu"


class ForeignRecipient(ValueError):
    """An output channel was asked to send to another channel's conversation."""


@dataclass(frozen=True)
class Identity:
    """A sender as the connector that verified it knows them."""

    channel: str
    native: str

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}")
        if not valid_native(self.native):
            raise ValueError(f"not a valid {self.channel} id")

    @property
    def conversation_id(self) -> str:
        return f"{self.channel}:{self.native}"

    @property
    def vouched(self) -> bool:
        """Whether the platform vouches for the id, so that it may stand for
        a linked shop customer."""
        return self.channel in VOUCHED


def valid_native(native: Any) -> bool:
    return isinstance(native, str) and bool(_NATIVE.match(native))


def parse(conversation_id: Optional[str]) -> Optional[Identity]:
    """The identity behind a conversation id, or None for anything not made
    by :class:`Identity` (a legacy id without a channel is nobody)."""
    channel, sep, native = (conversation_id or "").partition(":")
    if not sep or channel not in CHANNELS or not valid_native(native):
        return None
    return Identity(channel, native)


def native_recipient(channel: str, recipient_id: str) -> str:
    """The platform's own id for an output channel to send to. A recipient
    of another channel (a forged ``output_channel``) is refused."""
    identity = parse(recipient_id)
    if identity is None or identity.channel != channel:
        raise ForeignRecipient(f"{channel} cannot send to {for_log(recipient_id)}")
    return identity.native


def keyed_hash(value: str, purpose: str, length: int = 32) -> str:
    """HMAC-SHA256 of ``value`` under the id key, separated by purpose so
    that a hash made for one use cannot be matched against another."""
    mac = hmac.new(secret("id_key").encode("ascii"), f"{purpose}\x00{value}".encode("utf-8", "surrogatepass"),
                   hashlib.sha256)
    return mac.hexdigest()[:length]


def conversation_key(conversation_id: str) -> str:
    """What tickets, ratings, proofs and analytics store instead of the id."""
    return keyed_hash(conversation_id, "conversation")


def recipient_key(recipient: str) -> str:
    """A recipient of a delivery (a conversation id, an e-mail address) as a
    keyed hash, for the delivery records."""
    return keyed_hash(recipient, "recipient")


def client_key(address: Optional[str]) -> Optional[str]:
    """A client address (IP) as a keyed hash, for per-address limits."""
    return keyed_hash(address, "client") if address else None


def for_log(conversation_id: Optional[str]) -> str:
    """A conversation id fit for logs: its channel and a short keyed hash."""
    identity = parse(conversation_id)
    prefix = identity.channel if identity else "?"
    return f"{prefix}:{keyed_hash(conversation_id or '', 'log', 10)}"


def client_address(peer: Optional[str], headers: Mapping[str, str], trusted_proxies: Sequence[str]) -> Optional[str]:
    """A client's address: the TCP peer, unless the peer is one of our own
    proxies (nginx sets ``X-Real-IP``); the header from anyone else is
    ignored, or every guess could come from a fresh address."""
    if peer and _among(peer, trusted_proxies):
        forwarded = (headers.get("X-Real-IP") or "").strip()
        if not forwarded:
            forwarded = (headers.get("X-Forwarded-For") or "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            return peer
    return peer or None


def _among(address: str, networks: Sequence[str]) -> bool:
    """Whether ``address`` is one of ``networks`` (addresses or CIDR ranges)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in networks:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def trusted_metadata(client_address: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
    """The metadata a connector attaches under :data:`TRUSTED_KEY`."""
    data: Dict[str, Any] = {"client": client_key(client_address)}
    data.update(extra)
    return data


def client_of(metadata: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The keyed client address a connector recorded, if any."""
    trusted = (metadata or {}).get(TRUSTED_KEY)
    value = trusted.get("client") if isinstance(trusted, Mapping) else None
    return value if isinstance(value, str) else None


def proven_order(order_id: Any, proven_at: Any, ttl_seconds: float, now: float) -> Optional[str]:
    """The order a conversation proved to own (the ``verified_order`` and
    ``verified_at`` slots), while the proof lasts: ``ttl_seconds`` after it
    was given, never before (a clock moved back proves nothing). A new
    session empties the slots (actions/dialogue.py), so a proof also lasts
    one session. The actions and the widget's service record both ask here."""
    if not isinstance(order_id, str) or not order_id or proven_at is None:
        return None
    try:
        age = now - float(proven_at)
    except (TypeError, ValueError):
        return None
    return order_id if 0 <= age <= ttl_seconds else None

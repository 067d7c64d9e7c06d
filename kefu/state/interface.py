"""What a channel state can do, whatever keeps it (kefu/state/sql.py,
kefu/state/redis.py)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List, Optional

from sqlalchemy.engine import Engine

#: how long a claimed message id is remembered: WeChat resends for 15 s, a
#: nonce must outlive WeChat's 5-minute window, a mail may be fetched again
#: after a crash much later
CLAIM_TTL = timedelta(days=7)


@dataclass(frozen=True)
class Thread:
    """What an e-mail reply needs to stay in its thread; ``address`` is the
    one participant the conversation answers."""

    conversation_id: str
    address: str
    subject: str
    last_message_id: str
    references: str


@dataclass(frozen=True)
class DeliveryRecord:
    channel: str
    recipient_key: str
    status: str
    attempts: int
    error: Optional[str]


class ChannelState(ABC):
    """Shared by every server process of a deployment. ``engine`` is the
    shop database, where the records (threads, mail ids, deliveries) live
    in every implementation."""

    engine: Engine

    @abstractmethod
    def claim_message(self, channel: str, message_id: str) -> bool:
        """True the first time ``message_id`` is seen on ``channel``, in any
        process; False for every repeat within :data:`CLAIM_TTL`."""

    @abstractmethod
    def is_claimed(self, channel: str, message_id: str) -> bool:
        """Whether ``message_id`` was claimed on ``channel``."""

    @abstractmethod
    def get_token(self, name: str, margin: timedelta = timedelta(minutes=5)) -> Optional[str]:
        """The cached token unless it expires within ``margin``: refreshed
        before it expires, not after a call failed."""

    @abstractmethod
    def put_token(self, name: str, value: str, expires_at: datetime) -> None:
        """Cache ``value`` until ``expires_at``."""

    @abstractmethod
    def save_thread(self, thread: Thread) -> None:
        """Keep where a conversation's e-mail thread stands."""

    @abstractmethod
    def get_thread(self, conversation_id: str) -> Optional[Thread]:
        """The conversation's e-mail thread, if it has one."""

    @abstractmethod
    def remember_mail(self, message_id: str, conversation_id: str) -> None:
        """A Message-ID the shop sent in ``conversation_id``."""

    @abstractmethod
    def conversation_of_mail(self, message_ids: List[str]) -> Optional[str]:
        """The conversation of the newest of ``message_ids`` that the shop
        itself sent, if any."""

    @abstractmethod
    def record_delivery(self, channel: str, recipient: str, ok: bool, attempts: int,
                        error: Optional[str] = None) -> None:
        """The outcome of sending to ``recipient`` (kept as a keyed hash)."""

    @abstractmethod
    def deliveries(self, channel: str) -> List[DeliveryRecord]:
        """The recorded outcomes on ``channel``, oldest first."""

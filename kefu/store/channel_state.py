"""State that channel connectors share across server processes: message
claims (drop a resent message), cached access tokens, e-mail threads and the
record of deliveries. Same database as the shop, so several Rasa processes
behind a load balancer agree without extra infrastructure."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List, Optional

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from kefu.core import ids
from kefu.store.db import session_scope
from kefu.store.models import ChannelToken, Delivery, EmailMessage, EmailThread, MessageClaim
from kefu.core.clock import from_db, to_db, utcnow


def recipient_key(recipient: str) -> str:
    """A recipient (a conversation id, an e-mail address) as a keyed hash."""
    return ids.keyed_hash(recipient, "recipient")


@dataclass(frozen=True)
class Thread:
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


class ChannelState:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def claim_message(self, channel: str, message_id: str) -> bool:
        """True the first time ``message_id`` is seen on ``channel``, in any
        process; False for every repeat."""
        try:
            with session_scope(self.engine) as s:
                s.add(MessageClaim(channel=channel, message_id=message_id[:255], claimed_at=to_db(utcnow())))
            return True
        except IntegrityError:
            return False

    def is_claimed(self, channel: str, message_id: str) -> bool:
        with session_scope(self.engine) as s:
            return s.execute(
                select(MessageClaim.id).where(MessageClaim.channel == channel,
                                              MessageClaim.message_id == message_id[:255])
            ).first() is not None

    def forget_claims_before(self, moment: datetime) -> int:
        with session_scope(self.engine) as s:
            return s.execute(delete(MessageClaim).where(MessageClaim.claimed_at < to_db(moment))).rowcount

    def get_token(self, name: str, margin: timedelta = timedelta(minutes=5)) -> Optional[str]:
        """The cached token unless it expires within ``margin``: refreshed
        before it expires, not after a call failed."""
        with session_scope(self.engine) as s:
            token = s.get(ChannelToken, name)
            if token is None or from_db(token.expires_at) - margin <= utcnow():
                return None
            return token.value

    def put_token(self, name: str, value: str, expires_at: datetime) -> None:
        with session_scope(self.engine) as s:
            token = s.get(ChannelToken, name)
            if token is None:
                s.add(ChannelToken(name=name, value=value, expires_at=to_db(expires_at)))
            else:
                token.value, token.expires_at = value, to_db(expires_at)

    def save_thread(self, thread: Thread) -> None:
        with session_scope(self.engine) as s:
            row = s.get(EmailThread, thread.conversation_id)
            if row is None:
                row = EmailThread(conversation_id=thread.conversation_id)
                s.add(row)
            row.address, row.subject = thread.address, thread.subject[:255]
            row.last_message_id, row.references = thread.last_message_id[:255], thread.references
            row.updated_at = to_db(utcnow())

    def get_thread(self, conversation_id: str) -> Optional[Thread]:
        with session_scope(self.engine) as s:
            row = s.get(EmailThread, conversation_id)
            if row is None:
                return None
            return Thread(row.conversation_id, row.address, row.subject, row.last_message_id, row.references)

    def remember_mail(self, message_id: str, conversation_id: str) -> None:
        """A Message-ID the shop sent in ``conversation_id``."""
        with session_scope(self.engine) as s:
            if s.get(EmailMessage, message_id[:255]) is None:
                s.add(EmailMessage(message_id=message_id[:255], conversation_id=conversation_id, created_at=to_db(utcnow())))

    def conversation_of_mail(self, message_ids: List[str]) -> Optional[str]:
        """The conversation of the newest of ``message_ids`` that the shop
        itself sent, if any."""
        wanted = [m[:255] for m in message_ids if m]
        if not wanted:
            return None
        with session_scope(self.engine) as s:
            rows = {r.message_id: r.conversation_id
                    for r in s.execute(select(EmailMessage).where(EmailMessage.message_id.in_(wanted))).scalars()}
        for message_id in reversed(wanted):
            if message_id in rows:
                return rows[message_id]
        return None

    def record_delivery(self, channel: str, recipient: str, ok: bool, attempts: int,
                        error: Optional[str] = None) -> None:
        with session_scope(self.engine) as s:
            s.add(Delivery(channel=channel, recipient_key=recipient_key(recipient), status="sent" if ok else "failed",
                           attempts=attempts, error=(error or None) and error[:2000], created_at=to_db(utcnow())))

    def deliveries(self, channel: str) -> List[DeliveryRecord]:
        with session_scope(self.engine) as s:
            rows = s.execute(select(Delivery).where(Delivery.channel == channel).order_by(Delivery.id)).scalars()
            return [DeliveryRecord(r.channel, r.recipient_key, r.status, r.attempts, r.error) for r in rows]


_state: Optional[ChannelState] = None


def channel_state() -> ChannelState:
    """The process-wide state on the configured database (migrated on first
    use, so a connector works on a fresh laptop). With ``REDIS_URL`` set
    (the production profile), claims and tokens live in Redis instead
    (:mod:`kefu.store.redis_state`); threads and deliveries stay in SQL."""
    global _state
    if _state is None:
        from kefu.config import load_settings
        from kefu.store.db import make_engine, migrate

        settings = load_settings()
        migrate(settings.database_url)
        engine = make_engine(settings.database_url)
        if settings.redis_url:
            from kefu.store.redis_state import RedisChannelState, redis_client

            _state = RedisChannelState(engine, redis_client(settings.redis_url))
        else:
            _state = ChannelState(engine)
    return _state


def use_channel_state(state: Optional[ChannelState]) -> None:
    global _state
    _state = state

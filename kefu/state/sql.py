"""Channel state in the shop database: enough for one process or several
on one database (the embedded default)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import List, Optional

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from kefu.core import ids
from kefu.core.clock import from_db, to_db, utcnow
from kefu.state.interface import CLAIM_TTL, ChannelState, DeliveryRecord, Thread
from kefu.store.db import session_scope
from kefu.store.models import ChannelToken, Delivery, EmailMessage, EmailThread, MessageClaim


class SqlChannelState(ChannelState):
    def __init__(self, engine: Engine, claim_ttl: timedelta = CLAIM_TTL) -> None:
        self.engine = engine
        self.claim_ttl = claim_ttl

    def claim_message(self, channel: str, message_id: str) -> bool:
        now = utcnow()
        try:
            with session_scope(self.engine) as s:
                # claims older than the TTL go, as Redis lets them expire
                s.execute(delete(MessageClaim).where(MessageClaim.channel == channel,
                                                     MessageClaim.claimed_at < to_db(now - self.claim_ttl)))
                s.add(MessageClaim(channel=channel, message_id=message_id[:255], claimed_at=to_db(now)))
            return True
        except IntegrityError:
            return False

    def is_claimed(self, channel: str, message_id: str) -> bool:
        with session_scope(self.engine) as s:
            return s.execute(
                select(MessageClaim.id).where(MessageClaim.channel == channel,
                                              MessageClaim.message_id == message_id[:255])
            ).first() is not None

    def get_token(self, name: str, margin: timedelta = timedelta(minutes=5)) -> Optional[str]:
        with session_scope(self.engine) as s:
            token = s.get(ChannelToken, name)
            expires = from_db(token.expires_at) if token is not None else None
            if token is None or expires is None or expires - margin <= utcnow():
                return None
            return str(token.value)

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
        with session_scope(self.engine) as s:
            if s.get(EmailMessage, message_id[:255]) is None:
                s.add(EmailMessage(message_id=message_id[:255], conversation_id=conversation_id,
                                   created_at=to_db(utcnow())))

    def conversation_of_mail(self, message_ids: List[str]) -> Optional[str]:
        wanted = [m[:255] for m in message_ids if m]
        if not wanted:
            return None
        with session_scope(self.engine) as s:
            known = {r.message_id: r.conversation_id
                     for r in s.execute(select(EmailMessage).where(EmailMessage.message_id.in_(wanted))).scalars()}
        return next((known[m] for m in reversed(wanted) if m in known), None)

    def record_delivery(self, channel: str, recipient: str, ok: bool, attempts: int,
                        error: Optional[str] = None) -> None:
        with session_scope(self.engine) as s:
            s.add(Delivery(channel=channel, recipient_key=ids.recipient_key(recipient),
                           status="sent" if ok else "failed",
                           attempts=attempts, error=(error or None) and error[:2000], created_at=to_db(utcnow())))

    def deliveries(self, channel: str) -> List[DeliveryRecord]:
        with session_scope(self.engine) as s:
            rows = s.execute(select(Delivery).where(Delivery.channel == channel).order_by(Delivery.id)).scalars()
            return [DeliveryRecord(r.channel, r.recipient_key, r.status, r.attempts, r.error) for r in rows]

"""Channel state for the production profile (``REDIS_URL`` set): claims and
tokens in Redis, where every Rasa process behind the balancer sees them at
once and they expire by themselves; the records (threads, mail ids,
deliveries) stay in SQL, since they are records, not coordination.

* ``claim_message``: ``SET key 1 NX EX ttl``, atomic, so of two processes
  that receive the same WeChat MsgId (WeChat resends after 5 s, maybe to
  another instance) exactly one gets True.
* ``get_token`` / ``put_token``: ``SET key value PX ms`` with the token's own
  lifetime, read back with its remaining ``PTTL`` to refresh it early.

Redis errors are raised like the SQL ones: the connectors already treat a
failed claim as "process it anyway" (answering twice beats losing a message).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, List, Optional

import redis as redis_py
from sqlalchemy.engine import Engine

from kefu.core.clock import utcnow
from kefu.state.interface import CLAIM_TTL, ChannelState, DeliveryRecord, Thread
from kefu.state.sql import SqlChannelState


def redis_client(url: str) -> "redis_py.Redis[bytes]":
    """A client with short timeouts, so that a Redis outage is an error the
    caller handles, not a hang."""
    return redis_py.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3, health_check_interval=30,
                                   retry_on_timeout=True)


class RedisChannelState(ChannelState):
    def __init__(self, engine: Engine, client: Any, prefix: str = "kefu:", claim_ttl: timedelta = CLAIM_TTL) -> None:
        self.engine = engine
        self.redis = client
        self.prefix = prefix
        self.claim_ttl = claim_ttl
        self.records = SqlChannelState(engine)

    def _claim_key(self, channel: str, message_id: str) -> str:
        return f"{self.prefix}claim:{channel}:{message_id[:255]}"

    def _token_key(self, name: str) -> str:
        return f"{self.prefix}token:{name}"

    def claim_message(self, channel: str, message_id: str) -> bool:
        seconds = max(1, int(self.claim_ttl.total_seconds()))
        return bool(self.redis.set(self._claim_key(channel, message_id), 1, nx=True, ex=seconds))

    def is_claimed(self, channel: str, message_id: str) -> bool:
        return bool(self.redis.exists(self._claim_key(channel, message_id)))

    def get_token(self, name: str, margin: timedelta = timedelta(minutes=5)) -> Optional[str]:
        pipe = self.redis.pipeline()
        key = self._token_key(name)
        pipe.get(key)
        pipe.pttl(key)
        value, remaining_ms = pipe.execute()
        if value is None or remaining_ms is None or remaining_ms < 0:
            return None  # missing (-2), or stored without expiry (-1): never trusted
        if remaining_ms / 1000.0 <= margin.total_seconds():
            return None
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    def put_token(self, name: str, value: str, expires_at: datetime) -> None:
        milliseconds = int((expires_at - utcnow()).total_seconds() * 1000)
        key = self._token_key(name)
        if milliseconds <= 0:
            self.redis.delete(key)
            return
        self.redis.set(key, value, px=milliseconds)

    # the records: SQL

    def save_thread(self, thread: Thread) -> None:
        self.records.save_thread(thread)

    def get_thread(self, conversation_id: str) -> Optional[Thread]:
        return self.records.get_thread(conversation_id)

    def remember_mail(self, message_id: str, conversation_id: str) -> None:
        self.records.remember_mail(message_id, conversation_id)

    def conversation_of_mail(self, message_ids: List[str]) -> Optional[str]:
        return self.records.conversation_of_mail(message_ids)

    def record_delivery(self, channel: str, recipient: str, ok: bool, attempts: int,
                        error: Optional[str] = None) -> None:
        self.records.record_delivery(channel, recipient, ok, attempts, error)

    def deliveries(self, channel: str) -> List[DeliveryRecord]:
        return self.records.deliveries(channel)

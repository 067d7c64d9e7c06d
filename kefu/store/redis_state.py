"""Channel state on Redis, for the production profile (``REDIS_URL`` set).

The same API as :class:`kefu.store.channel_state.ChannelState`: message
claims and cached tokens move to Redis, where every Rasa process behind the
balancer sees them at once and they expire by themselves:

* ``claim_message``: ``SET key 1 NX EX ttl``, atomic, so of two processes
  that receive the same WeChat MsgId (WeChat resends after 5 s, maybe to
  another instance) exactly one gets True.
* ``get_token`` / ``put_token``: ``SET key value PX ms`` with the token's own
  lifetime, read back with its remaining ``PTTL`` to refresh it early.

E-mail threads and the record of deliveries stay in SQL (they are records,
not coordination) through the inherited methods. Redis errors are raised
like the SQL ones: the connectors already treat a failed claim as "process
it anyway" (answering twice beats losing a message).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy.engine import Engine

from kefu.store.channel_state import ChannelState
from kefu.core.clock import utcnow

#: how long a claimed message id is remembered: WeChat resends for 15 s,
#: an e-mail may be fetched again after a crash much later.
DEFAULT_CLAIM_TTL = timedelta(days=7)


def redis_client(url: str):  # type: ignore[no-untyped-def]
    """A client with short timeouts, so that a Redis outage is an error the
    caller handles, not a hang."""
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3,
                                health_check_interval=30, retry_on_timeout=True)


class RedisChannelState(ChannelState):
    def __init__(self, engine: Engine, client, prefix: str = "kefu:",  # type: ignore[no-untyped-def]
                 claim_ttl: timedelta = DEFAULT_CLAIM_TTL) -> None:
        super().__init__(engine)
        self.redis = client
        self.prefix = prefix
        self.claim_ttl = claim_ttl

    def _claim_key(self, channel: str, message_id: str) -> str:
        return f"{self.prefix}claim:{channel}:{message_id[:255]}"

    def _token_key(self, name: str) -> str:
        return f"{self.prefix}token:{name}"

    def claim_message(self, channel: str, message_id: str) -> bool:
        """True the first time ``message_id`` is seen on ``channel``, in any
        process; False for every repeat within the claim TTL."""
        seconds = max(1, int(self.claim_ttl.total_seconds()))
        return bool(self.redis.set(self._claim_key(channel, message_id), 1, nx=True, ex=seconds))

    def is_claimed(self, channel: str, message_id: str) -> bool:
        return bool(self.redis.exists(self._claim_key(channel, message_id)))

    def forget_claims_before(self, moment: datetime) -> int:
        """Claims expire by themselves in Redis (``claim_ttl``)."""
        return 0

    def get_token(self, name: str, margin: timedelta = timedelta(minutes=5)) -> Optional[str]:
        """The cached token unless it expires within ``margin``."""
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

"""Rasa's lock stores, polled every 20 ms instead of every second.

Rasa processes a conversation's messages one at a time: a message that
finds the conversation locked sleeps ``wait_time_in_seconds`` (1 s, not
configurable) before it looks again. A shopper who types the question and
the order number in two quick messages waited a whole second for the
second reply although the first was done in about 100 ms
(reports/perf/benchmark.md, burst). These classes poll every
``POLL_S`` seconds; the lock itself, its lifetime and its Redis keys are
Rasa's.

Rasa builds a custom lock store as ``cls(endpoint_config=...)``
(endpoints.yml, endpoints.production.yml).
"""
from __future__ import annotations

from typing import Any, AsyncContextManager, Optional, Text

from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

#: seconds between two looks at a busy conversation's lock
POLL_S = 0.02


class PromptInMemoryLockStore(InMemoryLockStore):
    """The embedded profile's lock store (one Rasa process)."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **_: Any) -> None:
        super().__init__()

    def lock(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME,
             wait_time_in_seconds: float = POLL_S) -> AsyncContextManager:
        return super().lock(conversation_id, lock_lifetime, wait_time_in_seconds)


class PromptRedisLockStore(RedisLockStore):
    """The production profile's lock store (every Rasa instance shares it)."""

    def __init__(self, endpoint_config: EndpointConfig, **_: Any) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    def lock(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME,
             wait_time_in_seconds: float = POLL_S) -> AsyncContextManager:
        return super().lock(conversation_id, lock_lifetime, wait_time_in_seconds)

"""State the channel connectors share across server processes: message
claims, cached tokens, e-mail threads and the record of deliveries.

``interface.py`` says what a state can do; ``sql.py`` keeps it all in the
shop database (the embedded default), ``redis.py`` keeps claims and tokens
in Redis (the production profile) and the records in SQL. The caller picks
with :func:`channel_state`: Redis when ``REDIS_URL`` is set. Nothing here
migrates a database: the supervisor and ``make db`` do, before any server
starts.
"""
from __future__ import annotations

from typing import Optional

from kefu.state.interface import ChannelState, DeliveryRecord, Thread

__all__ = ["ChannelState", "DeliveryRecord", "Thread", "channel_state", "use_channel_state"]

_state: Optional[ChannelState] = None


def channel_state() -> ChannelState:
    """The process-wide state for the configured servers (made on first use)."""
    global _state
    if _state is None:
        from kefu.core.config import load_settings
        from kefu.store.db import make_engine

        settings = load_settings()
        engine = make_engine(settings.database_url)
        if settings.redis_url:
            from kefu.state.redis import RedisChannelState, redis_client

            _state = RedisChannelState(engine, redis_client(settings.redis_url))
        else:
            from kefu.state.sql import SqlChannelState

            _state = SqlChannelState(engine)
    return _state


def use_channel_state(state: Optional[ChannelState]) -> None:
    """Point every connector of this process at ``state`` (tests, tools)."""
    global _state
    _state = state

"""Order news the shopper did not have to ask for: the shop's signed
webhook, the outbox and its dispatcher, quiet hours and caps."""
from __future__ import annotations

from functools import lru_cache

from kefu.core.config import load_settings
from kefu.store.db import make_engine
from kefu.store.notify import NotifyStore


@lru_cache(maxsize=1)
def notify_store() -> NotifyStore:
    """The process's store for order news, on the shop database (the
    connectors and the actions share it; the desk builds its own)."""
    return NotifyStore(make_engine(load_settings().database_url))

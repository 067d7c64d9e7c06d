"""The action server's access to the shop backend, and what to do when the
backend fails.

Actions never touch SQLAlchemy: they call `kefu.store.shop.ShopStore`. Any
failure of the backend (database down, timeout, a bug) becomes one polite
answer with the offer of a human agent, never a crash or a half-done change:
the store commits one transaction per call.
"""
from __future__ import annotations

import functools
import hashlib
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from kefu.config import load_settings
from kefu.store.db import make_engine
from kefu.store.desk import DeskStore
from kefu.store.shop import ShopStore

logger = logging.getLogger(__name__)

_store: Optional[ShopStore] = None

# Rasa channel name -> the channel of a customer's identity in the shop.
CHANNELS = {
    "socketio": "web",
    "rest": "web",
    "webchat": "web",
    "telegram": "telegram",
    "wechat": "wechat",
    "email": "email",
}


def store() -> ShopStore:
    """The process-wide store, created on first use so that importing the
    actions (e.g. in tests) needs no database."""
    global _store
    if _store is None:
        _store = ShopStore(make_engine(load_settings().database_url))
    return _store


def use_store(new_store: Optional[ShopStore]) -> None:
    """Point the actions at another store (tests, or a reconfigured server)."""
    global _store
    _store = new_store


def desk() -> DeskStore:
    """The agent desk's queue, on the shop's database."""
    return DeskStore(store().engine)


def conversation_key(tracker: Tracker) -> str:
    """A stable, non-reversible key for the conversation: sender ids can be
    phone numbers or e-mail addresses and must not be stored in clear."""
    return hashlib.sha256(tracker.sender_id.encode("utf-8")).hexdigest()[:32]


def channel_of(tracker: Tracker) -> str:
    return CHANNELS.get(tracker.get_latest_input_channel() or "", "web")


#: channels whose sender id the platform vouches for: WeChat's openid comes
#: in a signed request, Telegram's user id with the webhook secret. A web
#: session id or a REST sender is chosen by the client and an e-mail From
#: can be forged, so those shoppers prove an order with the phone digits.
TRUSTED_IDENTITY_CHANNELS = {"wechat", "telegram"}


def known_customer(tracker: Tracker) -> Optional[int]:
    """The customer linked to this sender's channel identity, if the channel
    vouches for the identity."""
    channel = channel_of(tracker)
    if channel not in TRUSTED_IDENTITY_CHANNELS:
        return None
    return store().customer_for_identity(channel, tracker.sender_id)


def language(tracker: Tracker) -> str:
    return "en" if tracker.get_slot("language") == "en" else "zh"


Run = Callable[..., Awaitable[List[Dict[Text, Any]]]]


def _no_events(_tracker: Tracker) -> List[Dict[Text, Any]]:
    return []


def backend_guard(
    run: Run, events_on_failure: Callable[[Tracker], List[Dict[Text, Any]]] = _no_events
) -> Run:
    """Wrap an action's `run`: any exception becomes the backend-down answer,
    with ``events_on_failure(tracker)`` (none by default)."""

    @functools.wraps(run)
    async def guarded(
        self: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict
    ) -> List[Dict[Text, Any]]:
        try:
            return await run(self, dispatcher, tracker, domain)
        except Exception:  # noqa: BLE001 - the shopper must get an answer
            logger.exception("action %s failed", self.name())
            dispatcher.utter_message(response="utter_backend_down")
            return events_on_failure(tracker)

    return guarded

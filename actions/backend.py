"""The action server's access to the shop backend, and what to do when the
backend fails.

Actions never touch SQLAlchemy: they call `kefu.store.shop.ShopStore`. Any
failure of the backend (database down, timeout, a bug) becomes one polite
answer with the offer of a human agent, never a crash or a half-done change:
the store commits one transaction per call.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Awaitable, Callable, Coroutine, Dict, List, Optional, Protocol, Text, TypeVar

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from kefu.core import ids
from kefu.core.config import load_settings
from kefu.core.names import LANGUAGE_SLOT
from kefu.record.owner import record_owner
from kefu.store.db import make_engine
from kefu.store.desk import DeskStore
from kefu.store.evidence import EvidenceStore
from kefu.store.limits import Limit, Limits
from kefu.store.notify import NotifyStore
from kefu.store.record import RecordStore
from kefu.store.shop import ShopStore

logger = logging.getLogger(__name__)

_store: Optional[ShopStore] = None


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


def evidence() -> EvidenceStore:
    """Photo evidence records, on the shop's database."""
    return EvidenceStore(store().engine, load_settings().evidence.max_photos)


def notifications() -> NotifyStore:
    """Order news (the outbox, followers, opt-outs), on the shop's database."""
    return NotifyStore(store().engine)


def records() -> RecordStore:
    """Shoppers' service records, on the shop's database."""
    return RecordStore(store().engine)


def identity_of(tracker: Tracker) -> Optional[ids.Identity]:
    """Who the conversation is with, from its id alone: the connector that
    created the conversation chose it (never the message's input_channel,
    which Rasa takes from the request)."""
    return ids.parse(tracker.sender_id)


def conversation_key(tracker: Tracker) -> str:
    """The conversation as a keyed hash, for what is stored beside it."""
    return ids.conversation_key(tracker.sender_id)


def channel_of(tracker: Tracker) -> str:
    identity = identity_of(tracker)
    return identity.channel if identity else "unknown"


def client_key(tracker: Tracker) -> Optional[str]:
    """The keyed client address the connector recorded for the latest
    message (none for WeChat and Telegram: their servers send it)."""
    return ids.client_of(tracker.latest_message.get("metadata"))


def known_customer(tracker: Tracker) -> Optional[int]:
    """The customer linked to this sender's channel identity, if the
    channel vouches for the identity (docs/security.md)."""
    identity = identity_of(tracker)
    if identity is None or not identity.vouched:
        return None
    return store().customer_for_identity(identity.channel, identity.native)


def proven_customer(tracker: Tracker) -> Optional[int]:
    """The customer this conversation is shown to be: a vouched identity
    linked to them, or one of their orders proved in this session
    (kefu/record/owner.py). Their tier decides who serves a handoff."""
    return record_owner(tracker.sender_id, tracker.slots, store())


def within_limits(tracker: Tracker, per_conversation: Limit, per_client: Limit) -> bool:
    """Count one use by this conversation and its client address; False
    when either used up its window (kefu/store/limits.py)."""
    limits = Limits(store().engine)
    return limits.allow(per_conversation, conversation_key(tracker)) and limits.allow(per_client, client_key(tracker))


def language(tracker: Tracker) -> str:
    return "en" if tracker.get_slot(LANGUAGE_SLOT) == "en" else "zh"


Events = List[Dict[Text, Any]]


class _Named(Protocol):
    """An action: what the guard needs of ``self`` (rasa-sdk's Action is untyped here)."""

    def name(self) -> Text: ...


A = TypeVar("A", bound=_Named)


def _no_events(_tracker: Tracker) -> Events:
    return []


def backend_guard(
    run: Callable[[A, CollectingDispatcher, Tracker, DomainDict], Awaitable[Events]],
    events_on_failure: Callable[[Tracker], Events] = _no_events,
) -> Callable[[A, CollectingDispatcher, Tracker, DomainDict], Coroutine[Any, Any, Events]]:
    """Wrap an action's `run`: any exception becomes the backend-down answer,
    with ``events_on_failure(tracker)`` (none by default). The wrapper has
    the signature of the `run` it guards."""

    @functools.wraps(run)
    async def guarded(self: A, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        try:
            return await run(self, dispatcher, tracker, domain)
        except Exception:  # the shopper must get an answer
            logger.exception("action %s failed", self.name())
            dispatcher.utter_message(response="utter_backend_down")
            return events_on_failure(tracker)

    return guarded

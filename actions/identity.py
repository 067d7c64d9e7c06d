"""Proof that the shopper may see or change an order.

A shopper is trusted with an order when the sender's channel identity is
vouched for by the platform and linked to the order's customer, or after
giving the order id and the last 4 digits of the phone on the order; such a
proof lasts 30 minutes and one session. Unknown ids and wrong digits get the
same answer, so nobody can learn whether someone else's order exists. Wrong
proofs are counted per conversation, per order across all conversations, per
client address and overall (``ShopStore.proof_lock``): rotating senders or
addresses does not buy new guesses, and a locked shopper is offered a human.
Every form that touches an order inherits :class:`OrderProofForm`.
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import backend_guard, client_key, conversation_key, known_customer, notifications, store
from actions.forms import KefuForm
from kefu.core import ids
from kefu.core.clock import utcnow
from kefu.core.config import load_settings
from kefu.nlu.patterns import extract_last4, match_entity
from kefu.store.shop import ProofPolicy

#: slots that hold one flow's answers; cleared when the flow ends
FLOW_SLOTS = (
    "phone_last4",
    "cancel_confirmed",
    "new_address",
    "address_confirmed",
    "aftersale_reason",
    "invoice_title",
    "complaint_detail",
    "photos",
)


def proof_policy() -> ProofPolicy:
    settings = load_settings()
    return ProofPolicy(per_conversation=settings.proof_per_conversation, per_order=settings.proof_per_order,
                       per_client=settings.proof_per_client, everyone=settings.proof_everyone)


#: the locks one form call has read, by (conversation, order, client): rasa-sdk
#: asks a form for its required slots three times a call (extraction,
#: validation, next slot), and each answer needs the lock; a proof attempt
#: recorded in the call forgets them, since it may be what locks
_locks_read: ContextVar[Optional[Dict[Tuple[str, Optional[str], Optional[str]], Optional[str]]]] = ContextVar(
    "proof_locks_read", default=None)


def proof_lock(tracker: Tracker, order_id: Optional[str] = None) -> Optional[str]:
    """Why this conversation may not try a proof now (too many wrong ones
    here, for this order anywhere, from this address, or from everyone)."""
    key = (conversation_key(tracker), order_id or tracker.get_slot("order_id"), client_key(tracker))
    read = _locks_read.get()
    if read is not None and key in read:
        return read[key]
    lock = store().proof_lock(*key, proof_policy())
    if read is not None:
        read[key] = lock
    return lock


def is_locked(tracker: Tracker) -> bool:
    return proof_lock(tracker) is not None


def proven_order(tracker: Tracker) -> Optional[str]:
    """The order this conversation proved to own, while the proof lasts
    (``KEFU_PROOF_TTL_SECONDS``; a new session forgets it,
    actions/dialogue.py)."""
    return ids.proven_order(tracker.get_slot("verified_order"), tracker.get_slot("verified_at"),
                            load_settings().proof_ttl_seconds, utcnow().timestamp())


def authorised_order_id(tracker: Tracker) -> Optional[str]:
    """The order in the `order_id` slot if this conversation may act on it."""
    order_id = tracker.get_slot("order_id")
    if not order_id:
        return None
    if proven_order(tracker) == order_id:
        return order_id
    customer = known_customer(tracker)
    if customer is not None and store().order_belongs_to(order_id, customer):
        return order_id
    return None


def _forget_locks() -> None:
    read = _locks_read.get()
    if read is not None:
        read.clear()


def _unfilled(tracker: Tracker) -> List[Dict[Text, Any]]:
    return [SlotSet(name, None) for name in tracker.slots_to_validate()]


class OrderProofForm(KefuForm):
    """Base of every form whose first slots are `order_id` and `phone_last4`
    (abstract, like KefuForm: each form names its own validation action)."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        """When the backend fails, the apology comes with the slots this turn
        filled set back to empty: the form then asks for them again instead
        of going on with values it could not check, and the shopper's retry
        is checked like a first answer (rather than arriving after the form
        ended and being misunderstood)."""
        reading = _locks_read.set({})
        try:
            return await backend_guard(KefuForm.run, _unfilled)(
                self, dispatcher, tracker, domain
            )
        finally:
            _locks_read.reset(reading)

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        slots = list(domain_slots)
        if "phone_last4" in slots and authorised_order_id(tracker):
            slots.remove("phone_last4")
            return slots
        if is_locked(tracker):
            return []  # the submit action explains and offers a human
        return slots

    def validate_order_id(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        order_id = match_entity("order_id", str(slot_value or "").replace(" ", ""))
        if order_id is None:
            dispatcher.utter_message(response="utter_invalid_order_id")
            return {"order_id": None}
        # A new order needs its own proof.
        return {"order_id": order_id, "phone_last4": None}

    def validate_phone_last4(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        last4 = extract_last4(str(slot_value or ""))
        if last4 is None:
            dispatcher.utter_message(response="utter_invalid_phone_last4")
            return {"phone_last4": None}
        order_id = tracker.get_slot("order_id")
        if proof_lock(tracker, order_id):
            return {"phone_last4": None}  # not even checked: the form ends, the lock is explained
        ok = bool(order_id) and store().verify_order_owner(order_id, last4)
        store().record_verification(conversation_key(tracker), order_id or "", ok, client_key(tracker))
        _forget_locks()
        if ok:
            notifications().follow(order_id, tracker.sender_id)  # its news may come here now
            return {"phone_last4": last4, "verified_order": order_id, "verified_at": utcnow().timestamp()}
        if proof_lock(tracker, order_id):
            # this failure locked the order (or the conversation, the address):
            # keep the order so that the form sees the lock, ends, and says so
            return {"phone_last4": None}
        dispatcher.utter_message(response="utter_verification_failed")
        return {"phone_last4": None, "order_id": None}


def clear_flow_slots() -> List[Dict[Text, Any]]:
    return [SlotSet(slot, None) for slot in FLOW_SLOTS]

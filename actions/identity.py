"""Proof that the shopper may see or change an order.

A shopper is trusted with an order when the sender's channel identity is
linked to the order's customer, or after giving the order id and the last 4
digits of the phone on the order. Unknown ids and wrong digits get the same
answer, so nobody can learn whether someone else's order exists; after too
many wrong proofs in the window the conversation is locked and offered a
human. Every form that touches an order inherits :class:`OrderProofForm`.
"""
from __future__ import annotations

from abc import abstractmethod
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.backend import backend_guard, conversation_key, known_customer, store
from kefu.config import load_settings
from kefu.nlu.patterns import extract_last4, match_entity

#: slots that hold one flow's answers; cleared when the flow ends
FLOW_SLOTS = (
    "phone_last4",
    "cancel_confirmed",
    "new_address",
    "address_confirmed",
    "aftersale_reason",
    "invoice_title",
    "complaint_detail",
)


def is_locked(tracker: Tracker) -> bool:
    """Too many wrong proofs recently: stop asking."""
    settings = load_settings()
    since = datetime.now(timezone.utc) - timedelta(
        seconds=settings.verification_window_seconds
    )
    failures = store().failed_verifications_since(conversation_key(tracker), since)
    return failures >= settings.max_failed_verifications


def authorised_order_id(tracker: Tracker) -> Optional[str]:
    """The order in the `order_id` slot if this conversation may act on it."""
    order_id = tracker.get_slot("order_id")
    if not order_id:
        return None
    if tracker.get_slot("verified_order") == order_id:
        return order_id
    customer = known_customer(tracker)
    if customer is not None and store().order_belongs_to(order_id, customer):
        return order_id
    return None


def _unfilled(tracker: Tracker) -> List[Dict[Text, Any]]:
    return [SlotSet(name, None) for name in tracker.slots_to_validate()]


class OrderProofForm(FormValidationAction):
    """Base of every form whose first slots are `order_id` and `phone_last4`."""

    @abstractmethod
    def name(self) -> Text:
        """Each form's own validation action name (abstract: rasa-sdk
        registers only concrete subclasses)."""

    async def run(self, dispatcher, tracker, domain):  # type: ignore[override]
        """When the backend fails, the apology comes with the slots this turn
        filled set back to empty: the form then asks for them again instead
        of going on with values it could not check, and the shopper's retry
        is checked like a first answer (rather than arriving after the form
        ended and being misunderstood)."""
        return await backend_guard(FormValidationAction.run, _unfilled)(
            self, dispatcher, tracker, domain
        )

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        if is_locked(tracker):
            return []  # the submit action explains and offers a human
        slots = list(domain_slots)
        if "phone_last4" in slots and authorised_order_id(tracker):
            slots.remove("phone_last4")
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
        key = conversation_key(tracker)
        ok = bool(order_id) and store().verify_order_owner(order_id, last4)
        store().record_verification(key, order_id or "", ok)
        if ok:
            return {"phone_last4": last4, "verified_order": order_id}
        if not is_locked(tracker):
            dispatcher.utter_message(response="utter_verification_failed")
        return {"phone_last4": None, "order_id": None}


def clear_flow_slots() -> List[Dict[Text, Any]]:
    return [SlotSet(slot, None) for slot in FLOW_SLOTS]

"""Returns, exchanges and refunds: eligibility, the request, its progress.

Eligibility is the store's decision (7 days from delivery for no-reason
returns, non-returnable categories, one open request per order and kind);
the actions only ask, explain and give the request number and next steps.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import backend_guard, evidence, known_customer, language, store
from actions.evidence import PHOTOS_SLOT, validate_photos
from actions.identity import OrderProofForm, authorised_order_id, clear_flow_slots, proven_order
from actions.orders import refuse_unauthorised
from kefu.core.clock import utcnow
from kefu.core.labels import label, phrase, yuan
from kefu.evidence.reasons import needs_photos
from kefu.store.shop import AftersaleView

_MAX_REASON_LENGTH = 500

def _kind(tracker: Tracker) -> str:
    return tracker.get_slot("aftersale_kind") or "return"


def existing_request(order_id: str, kind: str) -> Optional[AftersaleView]:
    """The request this flow is about, if one exists: "where is my refund"
    also means the refund of a return."""
    found = store().aftersale_for_order(order_id, kind)
    if found is None and kind == "refund":
        found = store().aftersale_for_order(order_id, "return")
    return found


class ValidateAftersaleForm(OrderProofForm):
    def name(self) -> Text:
        return "validate_aftersale_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        order_id = authorised_order_id(tracker)
        if order_id and not self._reason_needed(order_id, _kind(tracker)):
            slots = [s for s in slots if s not in ("aftersale_reason", PHOTOS_SLOT)]
        elif not needs_photos(tracker.get_slot("aftersale_reason") or ""):
            slots = [s for s in slots if s != PHOTOS_SLOT]  # "changed my mind" needs no photo
        return slots

    @staticmethod
    def _reason_needed(order_id: str, kind: str) -> bool:
        """No reason is asked when the submit will only report ("where is my
        refund?": a request exists) or refuse (outside the 7 days, food...):
        the shopper hears the answer before typing anything more."""
        if existing_request(order_id, kind):
            return False
        return store().check_aftersale_eligibility(order_id, kind, utcnow()).ok

    def validate_aftersale_reason(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        reason = " ".join(str(slot_value or "").split())[:_MAX_REASON_LENGTH]
        if len(reason) < 2:
            dispatcher.utter_message(response="utter_ask_aftersale_reason")
            return {"aftersale_reason": None}
        return {"aftersale_reason": reason}

    def validate_photos(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return validate_photos(slot_value, tracker)


def utter_status(dispatcher: CollectingDispatcher, request: AftersaleView, lang: str) -> None:
    details = (
        phrase("utter_part_refund_amount", lang, amount=yuan(request.refund_cents)) if request.refund_cents else ""
    )
    dispatcher.utter_message(
        response="utter_aftersale_status",
        aftersale_id=request.id,
        kind=label(request.kind, lang),
        status=label(request.status, lang),
        details=details,
    )


class ActionSubmitAftersale(Action):
    def name(self) -> Text:
        return "action_submit_aftersale"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if refuse_unauthorised(dispatcher, tracker):
            return clear_flow_slots()
        order_id, kind, lang = tracker.get_slot("order_id"), _kind(tracker), language(tracker)
        existing = existing_request(order_id, kind)
        if existing:
            utter_status(dispatcher, existing, lang)
            return clear_flow_slots()
        verdict = store().check_aftersale_eligibility(order_id, kind, utcnow())
        if not verdict.ok:
            dispatcher.utter_message(
                response="utter_aftersale_not_eligible",
                order_id=order_id,
                kind=label(kind, lang),
                reason=label(verdict.reason, lang),
            )
            dispatcher.utter_message(response="utter_offer_human")
            return clear_flow_slots()
        request_id = store().create_aftersale(order_id, kind, tracker.get_slot("aftersale_reason") or "",
                                              evidence_of=tracker.sender_id)
        photos = len(evidence().of_aftersale(request_id))
        dispatcher.utter_message(
            response="utter_aftersale_created",
            aftersale_id=request_id,
            kind=label(kind, lang),
            next_steps=phrase(f"utter_part_next_steps_{kind}", lang),
        )
        if photos:
            dispatcher.utter_message(response="utter_part_photos_attached", count=photos)
        return clear_flow_slots()


class ActionAftersaleStatus(Action):
    """Progress of a request named by its AS number. Only the shopper whose
    order it is may see it; to anyone else it does not exist."""

    def name(self) -> Text:
        return "action_aftersale_status"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        request = store().aftersale_status(tracker.get_slot("aftersale_id") or "")
        customer = known_customer(tracker)
        if request is not None and (
            proven_order(tracker) == request.order_id
            or (customer is not None and store().order_belongs_to(request.order_id, customer))
        ):
            utter_status(dispatcher, request, language(tracker))
        else:
            dispatcher.utter_message(response="utter_aftersale_unknown")
        return []

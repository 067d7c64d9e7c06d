"""Tickets: complaints, invoices and the status of a ticket by its number.

A ticket carries what a person needs to pick the case up without asking
again: category, priority, SLA, the order if proven, and an excerpt of the
conversation with phone numbers and e-mail addresses masked.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import backend_guard, channel_of, conversation_key, known_customer, language, store, within_limits
from actions.evidence import PHOTOS_SLOT, validate_photos
from actions.forms import KefuForm
from actions.identity import OrderProofForm, authorised_order_id, clear_flow_slots
from actions.orders import refuse_unauthorised
from kefu.core.labels import china_time, label, phrase
from kefu.core.privacy import redact
from kefu.evidence.reasons import needs_photos
from kefu.risk import complaints
from kefu.store.limits import TICKETS_PER_CLIENT, TICKETS_PER_CONVERSATION
from kefu.store.shop import TicketView

_MAX_DETAIL = 2000
_EXCERPT_TURNS = 10


def conversation_excerpt(tracker: Tracker, turns: int = _EXCERPT_TURNS) -> str:
    """The last messages of both sides, personal data masked."""
    lines = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            lines.append(f"shopper: {redact(event['text'])}")
        elif event.get("event") == "bot" and event.get("text"):
            lines.append(f"bot: {redact(event['text'])}")
    return "\n".join(lines[-turns:])


def open_ticket(tracker: Tracker, category: str, summary: str, with_photos: bool = False,
                complaint_category: Optional[str] = None) -> Optional[TicketView]:
    """Create a ticket for this conversation; the stored ticket, or None
    when this conversation or its address opened too many this hour."""
    if not within_limits(tracker, TICKETS_PER_CONVERSATION, TICKETS_PER_CLIENT):
        return None
    return store().create_ticket(
        category=category,
        summary=redact(summary)[:_MAX_DETAIL],
        excerpt=conversation_excerpt(tracker),
        channel=channel_of(tracker),
        conversation_key=conversation_key(tracker),
        customer_id=known_customer(tracker),
        order_id=authorised_order_id(tracker),
        with_photos=with_photos,
        complaint_category=complaint_category,
    )


class ValidateComplaintForm(KefuForm):
    """A complaint needs enough words for a person to act on: a bare
    "我要投诉" is asked for details."""

    def name(self) -> Text:
        return "validate_complaint_form"

    def validate_complaint_detail(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        detail = " ".join(str(slot_value or "").split())
        informative = len(detail) >= 8 if not detail.isascii() else len(detail.split()) >= 4
        if not informative:
            return {"complaint_detail": None}
        return {"complaint_detail": detail[:_MAX_DETAIL]}

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        slots = await super().required_slots(domain_slots, dispatcher, tracker, domain)
        if not needs_photos(tracker.get_slot("complaint_detail") or ""):
            slots = [s for s in slots if s != PHOTOS_SLOT]
        return slots

    def validate_photos(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return validate_photos(slot_value, tracker)


class ActionSubmitComplaint(Action):
    def name(self) -> Text:
        return "action_submit_complaint"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        detail = tracker.get_slot("complaint_detail") or ""
        ticket = open_ticket(tracker, "complaint", detail, with_photos=True,
                             complaint_category=complaints.categorize(detail).code)
        if ticket is None:
            dispatcher.utter_message(response="utter_too_many_requests")
            return clear_flow_slots()
        dispatcher.utter_message(response="utter_complaint_ticket", ticket_id=ticket.id,
                                 due=china_time(ticket.sla_due_at))
        if ticket.photos:
            dispatcher.utter_message(response="utter_part_photos_attached", count=ticket.photos)
        return clear_flow_slots()


class ValidateInvoiceForm(OrderProofForm):
    def name(self) -> Text:
        return "validate_invoice_form"

    def validate_invoice_title(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        title = " ".join(str(slot_value or "").split())
        if not 2 <= len(title) <= 120:
            dispatcher.utter_message(response="utter_ask_invoice_title")
            return {"invoice_title": None}
        return {"invoice_title": title}


class ActionSubmitInvoice(Action):
    """Invoices are issued by the finance team: the request is a ticket."""

    def name(self) -> Text:
        return "action_submit_invoice"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if refuse_unauthorised(dispatcher, tracker):
            return clear_flow_slots()
        title = tracker.get_slot("invoice_title")
        if open_ticket(tracker, "invoice", f"invoice title: {title}") is None:
            dispatcher.utter_message(response="utter_too_many_requests")
            return clear_flow_slots()
        dispatcher.utter_message(
            response="utter_invoice_requested", order_id=tracker.get_slot("order_id"), invoice_title=title
        )
        return clear_flow_slots()


class ActionTicketStatus(Action):
    """Status of a ticket by number, for the conversation or customer that
    opened it; to anyone else it does not exist."""

    def name(self) -> Text:
        return "action_ticket_status"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        ticket = store().get_ticket(tracker.get_slot("ticket_id") or "")
        customer = known_customer(tracker)
        if ticket is None or not (
            ticket.conversation_key == conversation_key(tracker)
            or (customer is not None and ticket.customer_id == customer)
        ):
            dispatcher.utter_message(response="utter_ticket_unknown")
            return []
        lang = language(tracker)
        if ticket.status == "resolved":
            details = phrase("utter_part_ticket_done", lang)
        else:
            details = phrase("utter_part_ticket_due", lang, due=china_time(ticket.sla_due_at))
        dispatcher.utter_message(
            response="utter_ticket_status", ticket_id=ticket.id, status=label(ticket.status, lang), details=details
        )
        return []

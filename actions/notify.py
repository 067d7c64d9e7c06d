"""Order news in the conversation, and the shopper's 退订 / stop.

``action_notify`` is run by the outbox's dispatcher (kefu/notify/) through
Rasa's ``execute``: it says the notification being delivered to this
conversation in the shopper's language and puts its order in the
``order_id`` slot, so "到哪了" next continues with that order; showing or
changing it still needs the owner's proof (actions/identity.py).
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import backend_guard, known_customer, notifications
from actions.handoff import LISTEN
from kefu.core.labels import yuan

#: event type -> what the shopper reads (every type of kefu.store.models.NOTIFY_EVENT_TYPES)
RESPONSES = {
    "order.shipped": "utter_notify_order_shipped",
    "order.delayed": "utter_notify_order_delayed",
    "order.out_for_delivery": "utter_notify_order_out_for_delivery",
    "order.delivered": "utter_notify_order_delivered",
    "refund.completed": "utter_notify_refund_completed",
    "aftersale.approved": "utter_notify_aftersale_approved",
    "aftersale.rejected": "utter_notify_aftersale_rejected",
}


def values(params: Dict[str, Any]) -> Dict[str, Any]:
    """The placeholders of a notification's response."""
    filled = {key: value for key, value in params.items() if key != "amount_cents"}
    if "amount_cents" in params:
        filled["amount"] = yuan(int(params["amount_cents"]))
    return filled


class ActionNotify(Action):
    def name(self) -> Text:
        return "action_notify"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        notification = notifications().delivering(tracker.sender_id)
        if notification is None:  # taken back (opted out a moment ago, or a stale call)
            return [LISTEN]
        dispatcher.utter_message(response=RESPONSES[notification.type], **values(notification.params))
        dispatcher.utter_message(response="utter_notify_opt_out_hint")
        return [SlotSet("order_id", notification.order_id), LISTEN]


class ActionOptOut(Action):
    """No more order news here, nor to this shopper anywhere else."""

    def name(self) -> Text:
        return "action_opt_out"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        notifications().opt_out(tracker.sender_id, known_customer(tracker))
        dispatcher.utter_message(response="utter_opted_out")
        return []


class ActionOptIn(Action):
    """News on again, but only for a sure "yes": an agreed word (订阅通知,
    subscribe) or the confirmation button. A longer message the classifier
    merely thinks asks for it ("还是别发了" read the wrong way) is asked
    about first, so no guess ever switches messages back on."""

    def name(self) -> Text:
        return "action_opt_in"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if float((tracker.latest_message.get("intent") or {}).get("confidence") or 0.0) < 1.0:
            dispatcher.utter_message(response="utter_confirm_opt_in")
            return []
        notifications().opt_in(tracker.sender_id, known_customer(tracker))
        dispatcher.utter_message(response="utter_opted_in")
        return []

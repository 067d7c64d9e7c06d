"""Conversation plumbing: routing of mixed retrieval
intents, the two-stage fallback and the hand-off to a person."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import language
from actions.identity import clear_flow_slots
from kefu.core.labels import topic
from kefu.core.names import HANDOFF_SLOT, LANGUAGE_SLOT

#: retrieval sub-intents that ask Kefu to *do* something rather than to explain
SERVICE_SUB_INTENTS = {"request_return/apply"}

#: what a new session keeps of the old one: the reply language, and an open
#: handoff (the agent is still there). Proofs, orders and half-filled forms
#: are forgotten: a proof of ownership lasts one session (docs/security.md).
CARRIED_OVER = (LANGUAGE_SLOT, HANDOFF_SLOT)


class ActionSessionStart(Action):
    """Rasa runs this when a conversation starts and after it was idle for
    `session_expiration_time`."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        kept = [SlotSet(name, tracker.get_slot(name)) for name in CARRIED_OVER if tracker.get_slot(name) is not None]
        return [SessionStarted(), *kept, ActionExecuted("action_listen")]


class ActionRouteRequest(Action):
    """`request_return` holds both policy questions and the request itself;
    the response selector's sub-intent tells them apart, and the
    `request_route` slot lets rules branch on it."""

    def name(self) -> Text:
        return "action_route_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        selector = tracker.latest_message.get("response_selector", {}).get(intent, {})
        key = selector.get("response", {}).get("intent_response_key")
        route = "service" if key in SERVICE_SUB_INTENTS or key is None else "faq"
        return [SlotSet("request_route", route)]


class ActionDefaultAskAffirmation(Action):
    """First stage of the fallback: 'did you mean …?' in the shopper's words,
    not the intent's name."""

    def name(self) -> Text:
        return "action_default_ask_affirmation"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        lang = language(tracker)
        ranking = tracker.latest_message.get("intent_ranking", [])
        offered = ((r["name"], topic(r["name"], lang)) for r in ranking if r.get("name"))
        candidate, words = next(((name, words) for name, words in offered if words), (None, None))
        if candidate is None:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        dispatcher.utter_message(response="utter_ask_affirmation", intent=candidate, intent_label=words)
        return []


class ActionResetOrderFlow(Action):
    """The shopper stopped a flow: forget its half-given answers."""

    def name(self) -> Text:
        return "action_reset_order_flow"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        return clear_flow_slots()

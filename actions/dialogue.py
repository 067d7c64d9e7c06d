"""Conversation plumbing: the reply language, routing of mixed retrieval
intents, the two-stage fallback and the hand-off to a person."""
from __future__ import annotations

from typing import Any, Dict, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from actions.backend import language
from actions.identity import clear_flow_slots
from actions.language import detect_language

#: retrieval sub-intents that ask Kefu to *do* something rather than to explain
SERVICE_SUB_INTENTS = {"request_return/apply"}

INTENT_LABELS = {
    "check_order_status": ("查询订单/物流", "tracking an order"),
    "cancel_order": ("取消订单", "cancelling an order"),
    "change_order_address": ("修改收货地址", "changing the delivery address"),
    "request_return": ("退货", "a return"),
    "request_exchange": ("换货", "an exchange"),
    "request_refund": ("退款", "a refund"),
    "ask_product_info": ("商品信息", "product information"),
    "ask_price_discount": ("价格优惠", "prices and discounts"),
    "ask_stock": ("库存", "stock"),
    "ask_shipping_time": ("发货/运费", "shipping"),
    "payment_problem": ("支付问题", "a payment problem"),
    "request_invoice": ("开发票", "an invoice"),
    "ask_warranty_repair": ("保修维修", "warranty or repair"),
    "complain": ("投诉", "a complaint"),
    "request_human": ("转人工客服", "talking to a human"),
    "account_problem": ("账号问题", "an account problem"),
    "faq": ("常见问题", "a general question"),
    "greet": ("打招呼", "saying hello"),
    "thanks": ("感谢", "saying thanks"),
    "goodbye": ("再见", "saying goodbye"),
}


#: what a new session keeps of the old one: the reply language, and an open
#: handoff (the agent is still there). Proofs, orders and half-filled forms
#: are forgotten: a proof of ownership lasts one session (docs/security.md).
CARRIED_OVER = ("language", "handoff_active")


class ActionSessionStart(Action):
    """Rasa runs this when a conversation starts and after it was idle for
    `session_expiration_time`."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher, tracker, domain):
        kept = [SlotSet(name, tracker.get_slot(name)) for name in CARRIED_OVER if tracker.get_slot(name) is not None]
        return [SessionStarted(), *kept, ActionExecuted("action_listen")]


class ValidateSlotMappings(ValidationAction):
    """Runs after every user message: keeps the `language` slot current."""

    def name(self) -> Text:
        return "action_validate_slot_mappings"

    async def extract_language(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = tracker.latest_message.get("text")
        return {"language": detect_language(text, tracker.get_slot("language"))}


class ActionRouteRequest(Action):
    """`request_return` holds both policy questions and the request itself;
    the response selector's sub-intent tells them apart, and the
    `request_route` slot lets rules branch on it."""

    def name(self) -> Text:
        return "action_route_request"

    async def run(self, dispatcher, tracker, domain):
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

    async def run(self, dispatcher, tracker, domain):
        ranking = tracker.latest_message.get("intent_ranking", [])
        candidate = next(
            (r["name"] for r in ranking if r.get("name") in INTENT_LABELS), None
        )
        if candidate is None:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        zh, en = INTENT_LABELS[candidate]
        dispatcher.utter_message(
            response="utter_ask_affirmation",
            intent=candidate,
            intent_label=en if language(tracker) == "en" else zh,
        )
        return []


class ActionResetOrderFlow(Action):
    """The shopper stopped a flow: forget its half-given answers."""

    def name(self) -> Text:
        return "action_reset_order_flow"

    async def run(self, dispatcher, tracker, domain):
        return clear_flow_slots()

"""The shopper's own service record (服务记录) in the conversation.

"服务记录" / "my record" shows a customer's after-sale requests, tickets and
past conversations (kefu/store/record.py), only to the customer
(kefu/record/owner.py): a linked WeChat or Telegram identity sees it at
once; anyone else proves an order first (``record_form``, the order proof of
every order form). On the web widget the record opens in its panel, which
refreshes itself; elsewhere it is one message.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import backend_guard, identity_of, language, proven_customer, records
from actions.identity import OrderProofForm, clear_flow_slots, is_locked
from kefu.core import ids
from kefu.record.view import message

#: what the widget does on this custom payload: open (or refresh) its panel
OPEN_PANEL = {"kefu": "record"}


class ValidateRecordForm(OrderProofForm):
    """Asks for an order proof only when the conversation is not already
    the customer (a linked identity, or an order proved in this session)."""

    def name(self) -> Text:
        return "validate_record_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> List[Text]:
        if proven_customer(tracker) is not None:
            return []
        return await super().required_slots(domain_slots, dispatcher, tracker, domain)


class ActionShowRecord(Action):
    def name(self) -> Text:
        return "action_show_record"

    @backend_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        customer = proven_customer(tracker)
        if customer is None:
            locked = is_locked(tracker)
            dispatcher.utter_message(response="utter_verification_locked" if locked else "utter_verification_failed")
            return clear_flow_slots()
        identity = identity_of(tracker)
        if identity is not None and identity.channel == ids.WEB:
            dispatcher.utter_message(response="utter_record_opened", json_message=OPEN_PANEL)
        else:
            dispatcher.utter_message(text=message(records().record(customer, tracker.sender_id), language(tracker)))
        return clear_flow_slots()

"""Order status, the shopper's recent orders, cancelling and changing the
delivery address. Changes happen only after an explicit confirmation and
only on orders that have not shipped; the store refuses anything else."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import backend_guard, known_customer, language, store
from actions.identity import OrderProofForm, authorised_order_id, clear_flow_slots, is_locked
from kefu.core.labels import china_time, label, listing, phrase, yuan
from kefu.core.privacy import mask_name, mask_phone
from kefu.store.shop import OrderView

_MIN_ADDRESS_LENGTH = 8
_MAX_ADDRESS_LENGTH = 200


class ValidateOrderStatusForm(OrderProofForm):
    def name(self) -> Text:
        return "validate_order_status_form"


class ValidateCancelOrderForm(OrderProofForm):
    def name(self) -> Text:
        return "validate_cancel_order_form"


class ValidateChangeAddressForm(OrderProofForm):
    def name(self) -> Text:
        return "validate_change_address_form"

    def validate_new_address(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        address = " ".join(str(slot_value or "").split())
        if not _MIN_ADDRESS_LENGTH <= len(address) <= _MAX_ADDRESS_LENGTH:
            dispatcher.utter_message(response="utter_invalid_address")
            return {"new_address": None}
        return {"new_address": address}


def refuse_unauthorised(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Say why nothing is shown and return True when the conversation may
    not act on the order in its `order_id` slot."""
    if authorised_order_id(tracker):
        return False
    if is_locked(tracker):
        dispatcher.utter_message(response="utter_verification_locked")
    else:
        dispatcher.utter_message(response="utter_verification_failed")
    return True


def authorised_order(order_id: str) -> OrderView:
    """An order this conversation was just authorised for (so it exists);
    if it has vanished since, that is a backend failure like any other and
    `backend_guard` answers for it."""
    order = store().get_order(order_id)
    if order is None:
        raise LookupError(f"authorised order {order_id} not found")
    return order


def order_details(order_id: str, lang: str) -> Dict[str, str]:
    """The placeholders of `utter_order_status` for one order."""
    order = authorised_order(order_id)
    items = listing((f"{i.name} x{i.quantity}" for i in order.items), lang)
    lines = _progress(order, lang)
    receiver = f"{mask_name(order.receiver_name)} {mask_phone(order.receiver_phone)}"
    lines.append(phrase("utter_part_order_recipient", lang, receiver=receiver))
    return {
        "order_id": order.id,
        "status": label(order.status, lang),
        "items": items,
        "amount": yuan(order.total_cents),
        "details": "".join(f"\n{line}" for line in lines),
    }


def _progress(order: OrderView, lang: str) -> List[str]:
    """Where the order is: the last tracking events once shipped, else what
    happens next."""
    if order.status == "paid":
        return [phrase("utter_part_order_paid", lang)]
    if order.status == "unpaid":
        return [phrase("utter_part_order_unpaid", lang)]
    shipment = store().tracking(order.id) if order.status in ("shipped", "delivered") else None
    if shipment is None:
        return []
    lines = [f"{shipment.carrier} {shipment.tracking_no}"]
    for event in shipment.events[-3:][::-1]:
        lines.append(f"{china_time(event.time)} {event.description_zh if lang == 'zh' else event.description_en}")
    if order.status == "shipped" and shipment.expected_delivery:
        lines.append(phrase("utter_part_order_eta", lang, eta=china_time(shipment.expected_delivery, "%m-%d")))
    return lines


class ActionShowOrderStatus(Action):
    def name(self) -> Text:
        return "action_show_order_status"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if not refuse_unauthorised(dispatcher, tracker):
            dispatcher.utter_message(
                response="utter_order_status", **order_details(tracker.get_slot("order_id"), language(tracker))
            )
        return clear_flow_slots()


class ActionListMyOrders(Action):
    """'My orders' for a shopper known by their channel identity."""

    def name(self) -> Text:
        return "action_list_my_orders"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        customer = known_customer(tracker)
        if customer is None:
            return [SlotSet("requested_slot", None)]
        lang = language(tracker)
        lines = [
            f"{o.id}  {label(o.status, lang)}  ¥{yuan(o.total_cents)}"
            for o in store().orders_of_customer(customer, limit=5)
        ]
        dispatcher.utter_message(response="utter_my_orders", orders="\n".join(lines))
        return []


class ActionCancelOrder(Action):
    def name(self) -> Text:
        return "action_cancel_order"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if refuse_unauthorised(dispatcher, tracker):
            return clear_flow_slots()
        order_id = tracker.get_slot("order_id")
        lang = language(tracker)
        if not tracker.get_slot("cancel_confirmed"):
            dispatcher.utter_message(response="utter_cancel_kept", order_id=order_id)
            return clear_flow_slots()
        result = store().cancel_order(order_id)
        if result.ok:
            dispatcher.utter_message(response="utter_order_cancelled", order_id=order_id)
        else:
            dispatcher.utter_message(
                response="utter_cannot_cancel",
                order_id=order_id,
                reason=label(result.reason, lang),
                advice=(
                    label("advice_after_ship", lang)
                    if result.reason in ("already_shipped", "already_delivered")
                    else ""
                ),
            )
        return clear_flow_slots()


class ActionChangeAddress(Action):
    def name(self) -> Text:
        return "action_change_address"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if refuse_unauthorised(dispatcher, tracker):
            return clear_flow_slots()
        order_id = tracker.get_slot("order_id")
        address = tracker.get_slot("new_address")
        lang = language(tracker)
        if not tracker.get_slot("address_confirmed"):
            dispatcher.utter_message(response="utter_address_kept")
            return clear_flow_slots()
        result = store().change_address(order_id, address)
        if result.ok:
            dispatcher.utter_message(
                response="utter_address_changed", order_id=order_id, new_address=address
            )
        else:
            dispatcher.utter_message(
                response="utter_cannot_change_address",
                order_id=order_id,
                reason=label(result.reason, lang),
                advice="",
            )
        return clear_flow_slots()

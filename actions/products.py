"""Product questions answered from the catalogue: price, variants, specs,
stock (read live, never cached) and warranty."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import backend_guard, language, store
from kefu.core.labels import listing, phrase, yuan
from kefu.store.shop import ProductView

_MAX_VARIANTS = 6


def asked_product(tracker: Tracker) -> Optional[str]:
    """The product of this message, else the one talked about before."""
    entities = [e for e in tracker.latest_message.get("entities", []) if e.get("entity") == "product"]
    if entities:
        return str(entities[0].get("value"))
    return tracker.get_slot("product")


def _lookup(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[ProductView]:
    name = asked_product(tracker)
    if not name:
        dispatcher.utter_message(response="utter_ask_which_product")
        return []
    products = store().find_products(name)
    if not products:
        dispatcher.utter_message(response="utter_product_unknown", product=name[:40])
    return products


def _specs(product: ProductView) -> str:
    return "，".join(f"{k}：{v}" for k, v in (product.specs or {}).items())  # the catalogue's own words


class ActionProductInfo(Action):
    def name(self) -> Text:
        return "action_product_info"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        products = _lookup(dispatcher, tracker)
        if not products:
            return []
        lang = language(tracker)
        low = min(p.price_cents for p in products)
        high = max(p.price_cents for p in products)
        specs = _specs(products[0])
        dispatcher.utter_message(
            response="utter_product_info",
            name=products[0].base_name,
            price=f"¥{yuan(low)}" if low == high else f"¥{yuan(low)}-{yuan(high)}",
            variants=listing((p.name for p in products[:_MAX_VARIANTS]), lang),
            specs=phrase("utter_part_product_specs", lang, specs=specs) if specs else "",
        )
        return []


class ActionCheckStock(Action):
    def name(self) -> Text:
        return "action_check_stock"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        products = _lookup(dispatcher, tracker)
        if not products:
            return []
        lang = language(tracker)
        wanted = _quantity(tracker)
        lines = [_stock_line(product, store().product_stock(product.id), wanted, lang)
                 for product in products[:_MAX_VARIANTS]]
        dispatcher.utter_message(response="utter_stock_info", lines="\n".join(lines))
        return []


def _stock_line(product: ProductView, stock: int, wanted: int, lang: str) -> str:
    """'Name: in stock (3 left)': only a low stock is counted out loud."""
    state = (
        "utter_part_stock_in" if stock >= wanted
        else ("utter_part_stock_short" if stock else "utter_part_stock_out")
    )
    left = phrase("utter_part_stock_left", lang, count=stock) if 0 < stock < 20 else ""
    return phrase(state, lang, name=product.name) + left


def _quantity(tracker: Tracker) -> int:
    try:
        return max(1, min(int(tracker.get_slot("quantity") or 1), 9999))
    except ValueError:
        return 1


class ActionWarrantyInfo(Action):
    def name(self) -> Text:
        return "action_warranty_info"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        name = asked_product(tracker)
        products = store().find_products(name) if name else []
        if not products:
            dispatcher.utter_message(response="utter_warranty_general")
        elif products[0].warranty_months:
            dispatcher.utter_message(response="utter_warranty_months", name=products[0].base_name,
                                     months=products[0].warranty_months)
        else:
            dispatcher.utter_message(response="utter_warranty_none", name=products[0].base_name)
        dispatcher.utter_message(response="utter_offer_human")
        return []

"""Product questions answered from the catalogue: price, variants, specs,
stock (read live, never cached) and warranty."""
from __future__ import annotations

from typing import Any, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.backend import backend_guard, language, store
from actions.labels import yuan

_MAX_VARIANTS = 6


def asked_product(tracker: Tracker) -> Optional[str]:
    """The product of this message, else the one talked about before."""
    entities = [e for e in tracker.latest_message.get("entities", []) if e.get("entity") == "product"]
    if entities:
        return str(entities[0].get("value"))
    return tracker.get_slot("product")


def _lookup(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Any]:
    name = asked_product(tracker)
    if not name:
        dispatcher.utter_message(response="utter_ask_which_product")
        return []
    products = store().find_products(name)
    if not products:
        dispatcher.utter_message(response="utter_product_unknown", product=name[:40])
    return products


def _specs(product: Any) -> str:
    return "，".join(f"{k}：{v}" for k, v in (product.specs or {}).items())


class ActionProductInfo(Action):
    def name(self) -> Text:
        return "action_product_info"

    @backend_guard
    async def run(self, dispatcher, tracker, domain):
        products = _lookup(dispatcher, tracker)
        if not products:
            return []
        lang = language(tracker)
        low = min(p.price_cents for p in products)
        high = max(p.price_cents for p in products)
        price = f"¥{yuan(low)}" if low == high else f"¥{yuan(low)}-{yuan(high)}"
        variants = "、".join(p.name for p in products[:_MAX_VARIANTS])
        base = products[0].base_name
        if lang == "zh":
            details = f"{base}：{price}\n可选款式：{variants}"
            if _specs(products[0]):
                details += f"\n参数：{_specs(products[0])}"
        else:
            details = f"{base}: {price}\nOptions: {', '.join(p.name for p in products[:_MAX_VARIANTS])}"
            if _specs(products[0]):
                details += f"\nSpecs: {_specs(products[0])}"
        dispatcher.utter_message(response="utter_product_info", details=details)
        return []


class ActionCheckStock(Action):
    def name(self) -> Text:
        return "action_check_stock"

    @backend_guard
    async def run(self, dispatcher, tracker, domain):
        products = _lookup(dispatcher, tracker)
        if not products:
            return []
        lang = language(tracker)
        wanted = _quantity(tracker)
        lines = []
        for product in products[:_MAX_VARIANTS]:
            stock = store().product_stock(product.id)
            if lang == "zh":
                state = "有货" if stock >= wanted else ("库存不足" if stock else "暂时缺货")
                lines.append(f"{product.name}：{state}" + (f"（剩{stock}件）" if 0 < stock < 20 else ""))
            else:
                state = "in stock" if stock >= wanted else ("not enough stock" if stock else "out of stock")
                lines.append(f"{product.name}: {state}" + (f" ({stock} left)" if 0 < stock < 20 else ""))
        dispatcher.utter_message(response="utter_product_info", details="\n".join(lines))
        return []


def _quantity(tracker: Tracker) -> int:
    try:
        return max(1, min(int(tracker.get_slot("quantity") or 1), 9999))
    except ValueError:
        return 1


class ActionWarrantyInfo(Action):
    def name(self) -> Text:
        return "action_warranty_info"

    @backend_guard
    async def run(self, dispatcher, tracker, domain):
        lang = language(tracker)
        name = asked_product(tracker)
        products = store().find_products(name) if name else []
        if products:
            months = products[0].warranty_months
            base = products[0].base_name
            if lang == "zh":
                details = f"{base}享受{months}个月官方保修，非人为损坏免费维修。" if months else f"{base}不提供保修，但签收7天内有质量问题可以退换。"
            else:
                details = f"{base} has a {months}-month warranty; repairs of non-accidental faults are free." if months else f"{base} has no warranty, but quality problems within 7 days of delivery are returned or exchanged."
        else:
            details = (
                "数码产品保修12个月，家电24个月，家居6个月，自签收日起算，非人为损坏免费维修。告诉我商品名我帮您查具体保修期~"
                if lang == "zh"
                else "Electronics have a 12-month warranty, appliances 24 months, home goods 6 months, from delivery; non-accidental faults are repaired free. Tell me the product for its exact warranty."
            )
        dispatcher.utter_message(response="utter_warranty_info", details=details)
        dispatcher.utter_message(response="utter_offer_human")
        return []

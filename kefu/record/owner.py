"""Which customer's service record a conversation may see: the one rule.

The record lists a customer's requests, tickets and past conversations, so
it is shown only to a conversation that *is* that customer: a WeChat or
Telegram identity the platform vouched for and the shop linked to them, or a
conversation that proved one of their orders (order id and the last 4 phone
digits) in this session and within the proof's lifetime. A web session, a
REST sender or an e-mail address is otherwise a stranger, whatever it is
called (docs/security.md). The actions and the widget's record route ask
here, with the slots of the conversation's tracker.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from kefu.core import ids
from kefu.core.clock import utcnow
from kefu.core.config import load_settings
from kefu.store.shop import ShopStore


def record_owner(conversation_id: str, slots: Mapping[str, Any], shop: ShopStore) -> Optional[int]:
    """The customer whose record ``conversation_id`` may see, else None."""
    identity = ids.parse(conversation_id)
    if identity is None:
        return None
    if identity.vouched:
        customer = shop.customer_for_identity(identity.channel, identity.native)
        if customer is not None:
            return customer
    order_id = ids.proven_order(slots.get("verified_order"), slots.get("verified_at"),
                                load_settings().proof_ttl_seconds, utcnow().timestamp())
    if order_id is None:
        return None
    order = shop.get_order(order_id)
    return order.customer_id if order is not None else None

"""What the assistant may ask of and do to the shop: the one API the actions
use. Each method is one transaction and returns plain, detached values
(never ORM objects), so a caller cannot lazily load data outside it and a
failure never leaves half a change behind.

Rules that protect shoppers live here, not in the dialogue: who owns an
order, what may still be cancelled or changed, what may be returned.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from kefu.core import ids
from kefu.core.clock import from_db, to_db, utcnow
from kefu.store.db import session_scope
from kefu.store.evidence import attach_waiting
from kefu.store.limits import locked_until
from kefu.store.models import (
    AftersaleRequest,
    Category,
    ChannelIdentity,
    Order,
    Payment,
    Product,
    SatisfactionRating,
    Shipment,
    Ticket,
    VerificationAttempt,
)

RETURN_WINDOW = timedelta(days=7)
#: ticket category -> (priority, hours until the SLA is due); complaints first
TICKET_SLA: Dict[str, tuple[int, int]] = {
    "complaint": (1, 4),
    "aftersale": (2, 24),
    "handoff": (2, 24),
    "invoice": (3, 72),
    "other": (3, 48),
}
_MAX_TEXT = 4000


@dataclass(frozen=True)
class ProofPolicy:
    """How many wrong order proofs are tolerated (docs/security.md): per
    conversation in a short window, then per order and per client address
    over a day with a doubling wait, and overall."""

    per_conversation: int = 3
    conversation_window: timedelta = timedelta(minutes=10)
    per_order: int = 5
    per_client: int = 20
    lookback: timedelta = timedelta(hours=24)
    order_backoff: timedelta = timedelta(minutes=15)
    client_backoff: timedelta = timedelta(minutes=5)
    max_lock: timedelta = timedelta(hours=24)
    everyone: int = 200
    everyone_window: timedelta = timedelta(minutes=10)


# -- values handed to callers --------------------------------------------------


@dataclass(frozen=True)
class ItemView:
    name: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class OrderView:
    id: str
    status: str
    customer_id: int
    total_cents: int
    receiver_name: str
    receiver_phone: str
    address: str
    created_at: datetime
    delivered_at: Optional[datetime]
    items: List[ItemView] = field(default_factory=list)


@dataclass(frozen=True)
class EventView:
    time: datetime
    description_zh: str
    description_en: str


@dataclass(frozen=True)
class TrackingView:
    carrier: str
    tracking_no: str
    expected_delivery: Optional[datetime]
    events: List[EventView]


@dataclass(frozen=True)
class ChangeResult:
    ok: bool
    reason: Optional[str] = None  # already_shipped | already_delivered | ... | not_found


@dataclass(frozen=True)
class Eligibility:
    ok: bool
    reason: Optional[str] = None


@dataclass(frozen=True)
class AftersaleView:
    id: str
    order_id: str
    kind: str
    status: str
    refund_cents: int
    created_at: datetime


@dataclass(frozen=True)
class TicketView:
    id: str
    category: str
    priority: int
    status: str
    sla_due_at: datetime
    conversation_key: str
    customer_id: Optional[int]
    order_id: Optional[str]
    photos: int = 0  # photo evidence attached when it was opened


@dataclass(frozen=True)
class ProductView:
    id: int
    name: str
    base_name: str
    category: str
    price_cents: int
    specs: Dict[str, Any]
    warranty_months: int


# -- the store -----------------------------------------------------------------


class ShopStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # customers and proof of ownership

    def customer_for_identity(self, channel: str, external_id: str) -> Optional[int]:
        with session_scope(self.engine) as s:
            return s.execute(
                select(ChannelIdentity.customer_id).where(
                    ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id[:254]
                )
            ).scalar_one_or_none()

    def link_identity(self, customer_id: int, channel: str, external_id: str) -> None:
        with session_scope(self.engine) as s:
            s.add(ChannelIdentity(customer_id=customer_id, channel=channel, external_id=external_id))

    def verify_order_owner(self, order_id: str, last4: str) -> bool:
        """True when ``last4`` ends the phone on the order or its customer's
        phone. Unknown orders and wrong digits are indistinguishable."""
        with session_scope(self.engine) as s:
            order = s.get(Order, order_id)
            if order is None or len(last4) != 4 or not last4.isdigit():
                return False
            phones = {order.receiver_phone, order.customer.phone}
            return any(phone.endswith(last4) for phone in phones)

    def order_belongs_to(self, order_id: str, customer_id: int) -> bool:
        with session_scope(self.engine) as s:
            owner = s.execute(select(Order.customer_id).where(Order.id == order_id)).scalar_one_or_none()
            return owner is not None and owner == customer_id

    def record_verification(self, conversation_key: str, order_id: str, ok: bool,
                            client_key: Optional[str] = None, now: Optional[datetime] = None) -> None:
        with session_scope(self.engine) as s:
            s.add(
                VerificationAttempt(
                    conversation_key=conversation_key, order_id=order_id[:16], client_key=client_key, ok=ok,
                    created_at=to_db(now or utcnow()),
                )
            )

    def proof_lock(self, conversation_key: str, order_id: Optional[str], client_key: Optional[str],
                   policy: "ProofPolicy", now: Optional[datetime] = None) -> Optional[str]:
        """Why no proof may be tried now, or None: ``conversation`` (too many
        wrong in this conversation), ``order`` (too many wrong for this order
        from anywhere, with backoff), ``client`` (from this address, with
        backoff) or ``everyone`` (a guessing wave: all proofs pause).
        Unknown orders count like real ones, so a lock reveals nothing."""
        now = now or utcnow()
        failed = VerificationAttempt.ok.is_(False)
        with session_scope(self.engine) as s:
            def failures_since(since: datetime, *where: Any) -> List[datetime]:
                rows = s.execute(select(VerificationAttempt.created_at)
                                 .where(failed, VerificationAttempt.created_at >= to_db(since), *where)).scalars()
                return [from_db(t) for t in rows]

            recent = failures_since(now - policy.conversation_window,
                                    VerificationAttempt.conversation_key == conversation_key)
            if len(recent) >= policy.per_conversation:
                return "conversation"
            since = now - policy.lookback
            if order_id:
                until = locked_until(failures_since(since, VerificationAttempt.order_id == order_id[:16]),
                                     policy.per_order, policy.order_backoff, policy.max_lock)
                if until is not None and until > now:
                    return "order"
            if client_key:
                until = locked_until(failures_since(since, VerificationAttempt.client_key == client_key),
                                     policy.per_client, policy.client_backoff, policy.max_lock)
                if until is not None and until > now:
                    return "client"
            wave = s.execute(select(func.count()).where(
                failed, VerificationAttempt.created_at >= to_db(now - policy.everyone_window))).scalar_one()
            if wave >= policy.everyone:
                return "everyone"
        return None

    # orders

    def get_order(self, order_id: str) -> Optional[OrderView]:
        with session_scope(self.engine) as s:
            order = s.get(Order, order_id)
            return _order_view(order) if order is not None else None

    def orders_of_customer(self, customer_id: int, limit: int = 5) -> List[OrderView]:
        with session_scope(self.engine) as s:
            orders = s.execute(
                select(Order).where(Order.customer_id == customer_id).order_by(Order.created_at.desc()).limit(limit)
            ).scalars()
            return [_order_view(o) for o in orders]

    def tracking(self, order_id: str) -> Optional[TrackingView]:
        with session_scope(self.engine) as s:
            shipment = s.execute(select(Shipment).where(Shipment.order_id == order_id)).scalar_one_or_none()
            if shipment is None:
                return None
            return TrackingView(
                carrier=shipment.carrier,
                tracking_no=shipment.tracking_no,
                expected_delivery=from_db(shipment.expected_delivery),
                events=[EventView(from_db(e.time), e.description_zh, e.description_en) for e in shipment.events],
            )

    def cancel_order(self, order_id: str) -> ChangeResult:
        """Cancel an order that has not shipped; a paid one is refunded."""
        with session_scope(self.engine) as s:
            order = s.get(Order, order_id, with_for_update=True)
            refusal = _unchangeable(order)
            if refusal:
                return ChangeResult(False, refusal)
            now = to_db(utcnow())
            if order.status == "paid":
                for payment in s.execute(select(Payment).where(Payment.order_id == order_id)).scalars():
                    payment.status = "refunded"
            for item in order.items:  # the goods go back on the shelf
                s.execute(update(Product).where(Product.id == item.product_id)
                          .values(stock=Product.stock + item.quantity))
            order.status, order.cancelled_at = "cancelled", now
            return ChangeResult(True)

    def change_address(self, order_id: str, address: str) -> ChangeResult:
        with session_scope(self.engine) as s:
            order = s.get(Order, order_id, with_for_update=True)
            refusal = _unchangeable(order)
            if refusal:
                return ChangeResult(False, refusal)
            order.address = address[:255]
            return ChangeResult(True)

    # returns, exchanges, refunds

    def check_aftersale_eligibility(self, order_id: str, kind: str, now: datetime) -> Eligibility:
        with session_scope(self.engine) as s:
            order = s.get(Order, order_id)
            return _eligibility(s, order, kind, now)

    def create_aftersale(self, order_id: str, kind: str, reason: str, now: Optional[datetime] = None,
                         evidence_of: Optional[str] = None) -> str:
        """Create the request (eligibility checked again inside the same
        transaction) and return its AS number; the photos waiting in the
        conversation ``evidence_of`` are attached to it."""
        now = now or utcnow()
        with session_scope(self.engine) as s:
            order = s.get(Order, order_id, with_for_update=True)
            verdict = _eligibility(s, order, kind, now)
            if not verdict.ok:
                raise ValueError(f"not eligible: {verdict.reason}")
            refund = order.total_cents if kind in ("return", "refund") else 0
            request = AftersaleRequest(
                order_id=order_id, kind=kind, status="requested", reason=reason[:_MAX_TEXT],
                refund_cents=refund, created_at=to_db(now), updated_at=to_db(now),
            )
            s.add(request)
            s.flush()
            request.id = f"AS{request.number:08d}"
            if evidence_of:
                attach_waiting(s, ids.conversation_key(evidence_of), aftersale_number=request.number, now=now)
            return request.id

    def aftersale_for_order(self, order_id: str, kind: str) -> Optional[AftersaleView]:
        """The newest open request of that kind on the order."""
        with session_scope(self.engine) as s:
            request = s.execute(
                select(AftersaleRequest)
                .where(AftersaleRequest.order_id == order_id, AftersaleRequest.kind == kind,
                       AftersaleRequest.status != "rejected")
                .order_by(AftersaleRequest.number.desc())
                .limit(1)
            ).scalar_one_or_none()
            return _aftersale_view(request) if request else None

    def aftersale_status(self, aftersale_id: str) -> Optional[AftersaleView]:
        with session_scope(self.engine) as s:
            request = s.execute(
                select(AftersaleRequest).where(AftersaleRequest.id == aftersale_id.upper()[:10])
            ).scalar_one_or_none()
            return _aftersale_view(request) if request else None

    # tickets

    def create_ticket(
        self,
        category: str,
        summary: str,
        excerpt: str,
        channel: str,
        conversation_key: str,
        customer_id: Optional[int] = None,
        order_id: Optional[str] = None,
        now: Optional[datetime] = None,
        with_photos: bool = False,
        complaint_category: Optional[str] = None,
    ) -> TicketView:
        category = category if category in TICKET_SLA else "other"
        priority, hours = TICKET_SLA[category]
        now = now or utcnow()
        with session_scope(self.engine) as s:
            ticket = Ticket(
                category=category, priority=priority, status="open", summary=summary[:_MAX_TEXT],
                excerpt=excerpt[:_MAX_TEXT], channel=channel, conversation_key=conversation_key,
                customer_id=customer_id, order_id=order_id, created_at=to_db(now),
                sla_due_at=to_db(now + timedelta(hours=hours)),
                complaint_category=complaint_category[:16] if complaint_category else None,
            )
            s.add(ticket)
            s.flush()
            ticket.id = f"TK{ticket.number:08d}"
            photos = attach_waiting(s, conversation_key, ticket_number=ticket.number, now=now) if with_photos else 0
            return replace(_ticket_view(ticket), photos=photos)

    def get_ticket(self, ticket_id: str) -> Optional[TicketView]:
        with session_scope(self.engine) as s:
            ticket = s.execute(select(Ticket).where(Ticket.id == ticket_id.upper()[:10])).scalar_one_or_none()
            return _ticket_view(ticket) if ticket else None

    def set_ticket_status(self, ticket_id: str, status: str) -> None:
        with session_scope(self.engine) as s:
            ticket = s.execute(select(Ticket).where(Ticket.id == ticket_id)).scalar_one()
            ticket.status = status
            ticket.resolved_at = to_db(utcnow()) if status == "resolved" else None

    # catalogue

    def find_products(self, name: str, limit: int = 20) -> List[ProductView]:
        """Variants of the catalogue product ``name`` (the NLU maps synonyms
        to it), else variants whose name contains it."""
        name = name.strip()[:64]
        if not name:
            return []
        with session_scope(self.engine) as s:
            rows = s.execute(
                select(Product, Category)
                .join(Category)
                .where(func.lower(Product.base_name) == name.lower())
                .order_by(Product.price_cents, Product.id)
                .limit(limit)
            ).all()
            if not rows:
                pattern = "%" + name.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                rows = s.execute(
                    select(Product, Category)
                    .join(Category)
                    .where(func.lower(Product.name).like(pattern, escape="\\"))
                    .order_by(Product.price_cents, Product.id)
                    .limit(limit)
                ).all()
            return [_product_view(p, c) for p, c in rows]

    def product_stock(self, product_id: int) -> int:
        with session_scope(self.engine) as s:
            return s.execute(select(Product.stock).where(Product.id == product_id)).scalar_one()

    # satisfaction

    def record_rating(
        self, conversation_key: str, channel: str, score: int, comment: Optional[str] = None,
        intent: Optional[str] = None,
    ) -> int:
        if not 1 <= int(score) <= 5:
            raise ValueError("a rating is 1 to 5")
        with session_scope(self.engine) as s:
            rating = SatisfactionRating(
                conversation_key=conversation_key, channel=channel, score=int(score),
                comment=(comment or None) and comment[:_MAX_TEXT], intent=intent, created_at=to_db(utcnow()),
            )
            s.add(rating)
            s.flush()
            return rating.id


# -- rules ---------------------------------------------------------------------


def _unchangeable(order: Optional[Order]) -> Optional[str]:
    """Why an order can no longer be cancelled or re-addressed, or None."""
    if order is None:
        return "not_found"
    return {
        "shipped": "already_shipped",
        "delivered": "already_delivered",
        "cancelled": "already_cancelled",
        "refunded": "already_refunded",
    }.get(order.status)


def _eligibility(s: Any, order: Optional[Order], kind: str, now: datetime) -> Eligibility:
    if order is None:
        return Eligibility(False, "not_found")
    if order.status in ("cancelled", "refunded"):
        return Eligibility(False, f"already_{order.status}")
    open_request = s.execute(
        select(AftersaleRequest.id).where(
            AftersaleRequest.order_id == order.id, AftersaleRequest.status != "rejected"
        )
    ).first()
    if open_request:
        return Eligibility(False, "already_requested")
    if kind == "refund":
        # Refund only (仅退款): paid but not shipped, or shipped and not received.
        return (Eligibility(True) if order.status in ("paid", "shipped")
                else Eligibility(False, "refund_needs_return" if order.status == "delivered" else "not_paid"))
    if order.status != "delivered":
        return Eligibility(False, "not_delivered")
    delivered_at = from_db(order.delivered_at)
    if delivered_at is None:  # a delivered order is always stamped; without it the window cannot be told
        raise ValueError(f"order {order.id} is delivered but has no delivered_at")
    if now - delivered_at > RETURN_WINDOW:
        return Eligibility(False, "window_expired")
    if any(not item.product.category.returnable for item in order.items):
        return Eligibility(False, "not_returnable")
    return Eligibility(True)


def _order_view(order: Order) -> OrderView:
    return OrderView(
        id=order.id, status=order.status, customer_id=order.customer_id, total_cents=order.total_cents,
        receiver_name=order.receiver_name, receiver_phone=order.receiver_phone, address=order.address,
        created_at=from_db(order.created_at), delivered_at=from_db(order.delivered_at),
        items=[ItemView(i.name, i.quantity, i.unit_price_cents) for i in order.items],
    )


def _aftersale_view(r: AftersaleRequest) -> AftersaleView:
    return AftersaleView(r.id, r.order_id, r.kind, r.status, r.refund_cents, from_db(r.created_at))


def _ticket_view(t: Ticket) -> TicketView:
    return TicketView(t.id, t.category, t.priority, t.status, from_db(t.sla_due_at), t.conversation_key,
                      t.customer_id, t.order_id)


def _product_view(p: Product, c: Category) -> ProductView:
    return ProductView(p.id, p.name, p.base_name, c.code, p.price_cents, dict(p.specs or {}), c.warranty_months)


__all__: Sequence[str] = ["ShopStore", "TICKET_SLA", "RETURN_WINDOW"]

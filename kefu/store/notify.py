"""The data of order news: the shop's events, the outbox, who follows an
order, who opted out. Like :class:`kefu.store.shop.ShopStore`, each method
is one transaction and returns frozen values.

Never twice for one event, across dispatchers and restarts: an event key is
stored once (``shop_events`` and ``notifications`` are unique on it); a
dispatcher takes a notification with a conditional UPDATE (pending ->
sending), one per conversation at a time; and a delivery interrupted by a
crash is recorded as failed, not tried again, because whether it reached
the shopper is unknown.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from kefu.core import ids
from kefu.core.clock import from_db, to_db, utcnow
from kefu.store.db import session_scope
from kefu.store.models import (
    AftersaleRequest,
    ChannelIdentity,
    Notification,
    NotificationOptOut,
    Order,
    OrderFollower,
    Shipment,
    ShopEvent,
    TrackingEvent,
    WebPage,
)

#: event type -> the order status it moves the order to (from the statuses it may leave)
_ORDER_MOVES = {
    "order.shipped": ("shipped", ("paid",)),
    "order.delivered": ("delivered", ("paid", "shipped")),
}
PAGE_LIFETIME = timedelta(days=1)
#: why a notification may wait without that counting as a delivery attempt
DEFERRALS = ("quiet_hours", "daily_cap", "page_closed")
_AFTERSALE_MOVES = {"aftersale.approved": "approved", "aftersale.rejected": "rejected",
                    "refund.completed": "refunded"}


@dataclass(frozen=True)
class IncomingEvent:
    """An event as the webhook validated it (kefu.notify.webhook)."""

    key: str
    type: str
    order_id: str
    occurred_at: datetime
    data: Dict[str, Any]


@dataclass(frozen=True)
class NotificationView:
    id: int
    type: str
    order_id: str
    customer_id: int
    conversation_id: Optional[str]
    params: Dict[str, Any]
    status: str
    reason: Optional[str]
    attempts: int
    last_error: Optional[str]
    next_attempt_at: datetime
    sent_at: Optional[datetime]


def _view(row: Notification) -> NotificationView:
    return NotificationView(row.id, row.type, row.order_id, row.customer_id, row.conversation_id,
                            json.loads(row.params), row.status, row.reason, row.attempts, row.last_error,
                            from_db(row.next_attempt_at), from_db(row.sent_at))


class UnknownOrder(LookupError):
    """The event names an order (or after-sale request) the shop never gave Kefu."""


class NotifyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- events in ------------------------------------------------------------

    def record_event(self, event: IncomingEvent, now: Optional[datetime] = None) -> Optional[NotificationView]:
        """Store ``event``, apply it to the order, and queue its news for the
        conversation that should hear it. None when the key was seen before
        (a resend: nothing happens twice). Raises :class:`UnknownOrder`."""
        now = now or utcnow()
        try:
            with session_scope(self.engine) as s:
                if s.execute(select(ShopEvent.id).where(ShopEvent.event_key == event.key)).first():
                    return None
                order = s.get(Order, event.order_id)
                if order is None:
                    raise UnknownOrder(event.order_id)
                params = _apply(s, order, event, now)
                s.add(ShopEvent(event_key=event.key, type=event.type, order_id=order.id,
                                payload=json.dumps(event.data, ensure_ascii=False),
                                occurred_at=to_db(event.occurred_at), received_at=to_db(now)))
                conversation = _recipient(s, order)
                row = Notification(
                    event_key=event.key, type=event.type, order_id=order.id, customer_id=order.customer_id,
                    conversation_id=conversation, params=json.dumps(params, ensure_ascii=False),
                    status="pending" if conversation else "skipped",
                    reason=None if conversation else "no_recipient", attempts=0,
                    next_attempt_at=to_db(now), created_at=to_db(now))
                s.add(row)
                s.flush()
                return _view(row)
        except IntegrityError:  # the same key, stored by another process a moment ago
            return None

    def stalled_shipments(self, older_than: timedelta, now: Optional[datetime] = None) -> List[IncomingEvent]:
        """Kefu's own event: a shipped order whose tracking has not moved for
        ``older_than``. Its key names the last tracking update, so one stall
        is told once and a new stall after movement again."""
        now = now or utcnow()
        cutoff = to_db(now - older_than)
        with session_scope(self.engine) as s:
            last = (select(TrackingEvent.shipment_id, func.max(TrackingEvent.time).label("last"),
                           func.max(TrackingEvent.id).label("event_id"))
                    .group_by(TrackingEvent.shipment_id).subquery())
            rows = s.execute(
                select(Shipment.id, Shipment.order_id, Shipment.carrier, Shipment.tracking_no, last.c.event_id)
                .join(Order, Order.id == Shipment.order_id)
                .join(last, last.c.shipment_id == Shipment.id)
                .where(Order.status == "shipped", last.c.last < cutoff)
            ).all()
        return [IncomingEvent(f"kefu-stall:{shipment}:{event_id}", "order.delayed", order_id, now,
                              {"carrier": carrier, "tracking_no": tracking})
                for shipment, order_id, carrier, tracking, event_id in rows]

    def follow(self, order_id: str, conversation_id: str, now: Optional[datetime] = None) -> None:
        """``conversation_id`` proved it owns ``order_id``: its news may go there."""
        now = now or utcnow()
        try:
            with session_scope(self.engine) as s:
                row = s.execute(select(OrderFollower).where(OrderFollower.order_id == order_id,
                                                            OrderFollower.conversation_id == conversation_id)
                                ).scalar_one_or_none()
                if row is None:
                    s.add(OrderFollower(order_id=order_id, conversation_id=conversation_id, proven_at=to_db(now)))
                else:
                    row.proven_at = to_db(now)
        except IntegrityError:  # followed by a parallel turn: same result
            pass

    # -- the outbox -----------------------------------------------------------

    def claim_due(self, now: datetime, lease: timedelta, limit: int = 20) -> List[NotificationView]:
        """Take up to ``limit`` due notifications for delivery (pending ->
        sending), at most one per conversation; what another dispatcher took
        first is not taken."""
        taken: List[NotificationView] = []
        with session_scope(self.engine) as s:
            self._fail_interrupted(s, now)
            candidates = s.execute(
                select(Notification.id, Notification.conversation_id)
                .where(Notification.status == "pending", Notification.next_attempt_at <= to_db(now))
                .order_by(Notification.next_attempt_at, Notification.id).limit(limit * 4)
            ).all()
        seen: set = set()
        for notification_id, conversation in candidates:
            if conversation in seen or len(taken) >= limit:
                continue
            seen.add(conversation)
            view = self._take(notification_id, conversation, now, lease)
            if view is not None:
                taken.append(view)
        return taken

    def _take(self, notification_id: int, conversation: str, now: datetime,
              lease: timedelta) -> Optional[NotificationView]:
        other = aliased(Notification)
        busy = exists().where(other.conversation_id == conversation, other.status == "sending")
        with session_scope(self.engine) as s:
            done = s.execute(
                update(Notification)
                .where(Notification.id == notification_id, Notification.status == "pending", ~busy)
                .values(status="sending", claimed_until=to_db(now + lease), attempts=Notification.attempts + 1)
                .execution_options(synchronize_session=False)
            ).rowcount
            return _view(s.get(Notification, notification_id)) if done else None

    @staticmethod
    def _fail_interrupted(s: Session, now: datetime) -> None:
        s.execute(update(Notification)
                  .where(Notification.status == "sending", Notification.claimed_until < to_db(now))
                  .values(status="failed", reason="interrupted", claimed_until=None)
                  .execution_options(synchronize_session=False))

    def delivering(self, conversation_id: str) -> Optional[NotificationView]:
        """The notification being delivered to ``conversation_id`` now (what
        ``action_notify`` says)."""
        with session_scope(self.engine) as s:
            row = s.execute(select(Notification).where(Notification.conversation_id == conversation_id,
                                                       Notification.status == "sending")
                            .order_by(Notification.id)).scalars().first()
            return _view(row) if row else None

    def finish(self, notification_id: int, status: str, *, reason: Optional[str] = None,
               error: Optional[str] = None, retry_at: Optional[datetime] = None,
               now: Optional[datetime] = None) -> None:
        """Record a delivery's outcome: ``sent``; ``pending`` again at
        ``retry_at`` (deferred or to be retried); ``waiting`` (for the
        shopper's next visit); ``failed`` or ``skipped`` for good."""
        now = now or utcnow()
        values: Dict[str, Any] = {"status": status, "reason": reason, "claimed_until": None}
        if error is not None:
            values["last_error"] = error[:2000]
        if status == "sent":
            values["sent_at"] = to_db(now)
        if retry_at is not None:
            values["next_attempt_at"] = to_db(retry_at)
        if reason in DEFERRALS:
            values["attempts"] = Notification.attempts - 1  # held back, not a failed attempt
        with session_scope(self.engine) as s:
            s.execute(update(Notification).where(Notification.id == notification_id).values(**values)
                      .execution_options(synchronize_session=False))

    def sent_between(self, customer_id: int, start: datetime, end: datetime) -> int:
        with session_scope(self.engine) as s:
            return int(s.execute(select(func.count(Notification.id)).where(
                Notification.customer_id == customer_id, Notification.status == "sent",
                Notification.sent_at >= to_db(start), Notification.sent_at < to_db(end))).scalar_one())

    def notifications(self, order_id: Optional[str] = None) -> List[NotificationView]:
        with session_scope(self.engine) as s:
            query = select(Notification).order_by(Notification.id)
            if order_id is not None:
                query = query.where(Notification.order_id == order_id)
            return [_view(row) for row in s.execute(query).scalars()]

    # -- widget pages ---------------------------------------------------------

    def page_opened(self, sid: str, conversation_id: str, now: Optional[datetime] = None) -> int:
        """A widget page joined ``conversation_id``; what waited for the
        shopper's next visit is due now (how many)."""
        now = now or utcnow()
        with session_scope(self.engine) as s:
            s.merge(WebPage(sid=sid[:64], conversation_key=ids.conversation_key(conversation_id), opened_at=to_db(now)))
            return s.execute(update(Notification)
                             .where(Notification.conversation_id == conversation_id,
                                    Notification.status == "waiting")
                             .values(status="pending", reason=None, next_attempt_at=to_db(now))
                             .execution_options(synchronize_session=False)).rowcount

    def page_closed(self, sid: str) -> None:
        with session_scope(self.engine) as s:
            s.execute(delete(WebPage).where(WebPage.sid == sid[:64]))

    def page_open(self, conversation_id: str, now: Optional[datetime] = None) -> bool:
        """Whether a widget page is on ``conversation_id`` (pages older than a
        day are a crashed server's leftovers, not open)."""
        since = to_db((now or utcnow()) - PAGE_LIFETIME)
        with session_scope(self.engine) as s:
            return s.execute(select(WebPage.sid).where(
                WebPage.conversation_key == ids.conversation_key(conversation_id), WebPage.opened_at >= since)
            ).first() is not None

    # -- opting out -----------------------------------------------------------

    def opt_out(self, conversation_id: str, customer_id: Optional[int], now: Optional[datetime] = None) -> None:
        """No more news for this conversation, nor for its shopper on any
        channel: the customer its identity is linked to (``customer_id``) and
        the owners of the orders it proved."""
        with session_scope(self.engine) as s:
            key = ids.conversation_key(conversation_id)
            have = s.execute(select(NotificationOptOut.customer_id, NotificationOptOut.conversation_key).where(
                _optout_of(conversation_id, None, self._owners(s, conversation_id, customer_id)))).all()
            if not any(row.conversation_key == key for row in have):
                s.add(NotificationOptOut(conversation_key=key, created_at=to_db(now or utcnow())))
            known = {row.customer_id for row in have}
            for owner in self._owners(s, conversation_id, customer_id) - known:
                s.add(NotificationOptOut(customer_id=owner, created_at=to_db(now or utcnow())))

    def opt_in(self, conversation_id: str, customer_id: Optional[int]) -> None:
        """News again, here and for the same shopper elsewhere."""
        with session_scope(self.engine) as s:
            owners = self._owners(s, conversation_id, customer_id)
            s.execute(delete(NotificationOptOut).where(_optout_of(conversation_id, None, owners))
                      .execution_options(synchronize_session=False))

    def opted_out(self, conversation_id: str, customer_id: Optional[int]) -> bool:
        with session_scope(self.engine) as s:
            return s.execute(select(NotificationOptOut.id).where(
                _optout_of(conversation_id, customer_id, set()))).first() is not None

    @staticmethod
    def _owners(s: Session, conversation_id: str, customer_id: Optional[int]) -> set:
        followed = s.execute(select(Order.customer_id).join(OrderFollower, OrderFollower.order_id == Order.id)
                             .where(OrderFollower.conversation_id == conversation_id)).scalars()
        return {int(owner) for owner in followed} | ({customer_id} if customer_id is not None else set())



def _optout_of(conversation_id: str, customer_id: Optional[int], owners: set) -> Any:
    """Opt-outs of this conversation or of one of these customers."""
    customers = owners | ({customer_id} if customer_id is not None else set())
    by_conversation = NotificationOptOut.conversation_key == ids.conversation_key(conversation_id)
    return or_(by_conversation, NotificationOptOut.customer_id.in_(customers)) if customers else by_conversation


def _recipient(s: Session, order: Order) -> Optional[str]:
    """The conversation that hears an order's news: the last one that proved
    it owns the order, else a channel identity the platform vouches for and
    the shop linked to the order's customer (never a sender merely claiming
    to be them)."""
    follower = s.execute(select(OrderFollower.conversation_id).where(OrderFollower.order_id == order.id)
                         .order_by(OrderFollower.proven_at.desc(), OrderFollower.id.desc())).scalars().first()
    if follower:
        return str(follower)
    for channel, external in s.execute(
            select(ChannelIdentity.channel, ChannelIdentity.external_id)
            .where(ChannelIdentity.customer_id == order.customer_id).order_by(ChannelIdentity.id)).all():
        if channel in ids.VOUCHED and ids.valid_native(external):
            return ids.Identity(channel, external).conversation_id
    return None


def _apply(s: Session, order: Order, event: IncomingEvent, now: datetime) -> Dict[str, Any]:
    """Bring the order up to date with the event; the values its news needs."""
    data, params = event.data, {"order_id": order.id}
    if event.type in ("order.shipped", "order.delayed", "order.out_for_delivery"):
        params.update(_shipment(s, order, data, event))
    move = _ORDER_MOVES.get(event.type)
    if move and order.status in move[1]:
        order.status = move[0]
        if move[0] == "shipped":
            order.shipped_at = to_db(event.occurred_at)
        else:
            order.delivered_at = to_db(event.occurred_at)
    if event.type in _AFTERSALE_MOVES or data.get("aftersale_id"):
        params.update(_aftersale(s, order, data, _AFTERSALE_MOVES.get(event.type), now))
    if "amount_cents" in data:
        params["amount_cents"] = int(data["amount_cents"])
    if data.get("reason"):
        params["reason"] = str(data["reason"])
    return params


def _shipment(s: Session, order: Order, data: Dict[str, Any], event: IncomingEvent) -> Dict[str, Any]:
    shipment = s.execute(select(Shipment).where(Shipment.order_id == order.id)).scalar_one_or_none()
    if shipment is None and data.get("tracking_no"):
        shipment = Shipment(order_id=order.id, carrier=str(data.get("carrier") or ""),
                            tracking_no=str(data["tracking_no"]))
        s.add(shipment)
        s.flush()
    elif shipment is not None and event.type == "order.shipped" and data.get("tracking_no"):
        shipment.carrier, shipment.tracking_no = str(data.get("carrier") or shipment.carrier), str(data["tracking_no"])
    if shipment is None:
        return {}
    if data.get("description_zh") and data.get("description_en"):
        s.add(TrackingEvent(shipment_id=shipment.id, time=to_db(event.occurred_at),
                            description_zh=str(data["description_zh"]), description_en=str(data["description_en"])))
    return {"carrier": shipment.carrier, "tracking_no": shipment.tracking_no}


def _aftersale(s: Session, order: Order, data: Dict[str, Any], status: Optional[str],
               now: datetime) -> Dict[str, Any]:
    request_id = data.get("aftersale_id")
    if not request_id:
        return {}
    request = s.execute(select(AftersaleRequest).where(and_(AftersaleRequest.id == str(request_id),
                                                            AftersaleRequest.order_id == order.id))
                        ).scalar_one_or_none()
    if request is None:
        raise UnknownOrder(str(request_id))
    if status:
        request.status, request.updated_at = status, to_db(now)
        if status == "refunded" and "amount_cents" in data:
            request.refund_cents = int(data["amount_cents"])
    return {"aftersale_id": request.id}

"""Order news Kefu tells shoppers without being asked (kefu/notify/).

``shop_events`` is the shop's webhook log: one row per event key, so a
resent event is recognised and never told twice. ``notifications`` is the
outbox: one row per event (``event_key`` unique), with the conversation it
goes to, its state and every attempt's outcome. ``order_followers`` are the
conversations that proved they own an order; ``notification_optouts`` the
shoppers and conversations that said 退订 / stop; ``web_pages`` the widget
pages open now (a web shopper is told only while one is, else at the next
visit).
"""
from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint

from kefu.store.models.base import Base

#: what the shop may tell Kefu (POST /shop/events), and Kefu's own "no
#: tracking movement for a while"
NOTIFY_EVENT_TYPES = ("order.shipped", "order.delayed", "order.out_for_delivery", "order.delivered",
                      "refund.completed", "aftersale.approved", "aftersale.rejected")
NOTIFICATION_STATUSES = ("pending", "sending", "waiting", "sent", "failed", "skipped")


class ShopEvent(Base):
    __tablename__ = "shop_events"

    id = Column(Integer, primary_key=True)
    event_key = Column(String(128), nullable=False, unique=True)
    type = Column(String(32), nullable=False)
    order_id = Column(String(16), ForeignKey("orders.id"), nullable=False, index=True)
    payload = Column(Text, nullable=False)  # the event's data, JSON
    occurred_at = Column(DateTime, nullable=False)
    received_at = Column(DateTime, nullable=False)


class OrderFollower(Base):
    """A conversation that proved it owns an order (order id and phone
    digits): the order's news may go there."""

    __tablename__ = "order_followers"
    __table_args__ = (UniqueConstraint("order_id", "conversation_id"),)

    id = Column(Integer, primary_key=True)
    order_id = Column(String(16), ForeignKey("orders.id"), nullable=False, index=True)
    conversation_id = Column(String(255), nullable=False)
    proven_at = Column(DateTime, nullable=False)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),
                      Index("ix_notifications_customer_sent", "customer_id", "sent_at"))

    id = Column(Integer, primary_key=True)
    event_key = Column(String(128), nullable=False, unique=True)
    type = Column(String(32), nullable=False)
    order_id = Column(String(16), ForeignKey("orders.id"), nullable=False)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    conversation_id = Column(String(255), index=True)  # None: nobody to tell
    params = Column(Text, nullable=False)  # the response's values, JSON
    status = Column(String(16), nullable=False)
    reason = Column(String(32))  # why it waits or was skipped: quiet_hours, daily_cap, opted_out, ...
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False)
    claimed_until = Column(DateTime)  # a dispatcher's lease while it delivers
    last_error = Column(Text)
    created_at = Column(DateTime, nullable=False)
    sent_at = Column(DateTime)


class NotificationOptOut(Base):
    """退订 / stop: by customer (every channel they are known on) and by
    conversation (a sender no customer is known for)."""

    __tablename__ = "notification_optouts"

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), index=True)
    conversation_key = Column(String(64), index=True)  # kefu.core.ids.conversation_key
    created_at = Column(DateTime, nullable=False)


class WebPage(Base):
    """A widget page connected to a web conversation (one row per socket)."""

    __tablename__ = "web_pages"

    sid = Column(String(64), primary_key=True)
    conversation_key = Column(String(64), nullable=False, index=True)
    opened_at = Column(DateTime, nullable=False)

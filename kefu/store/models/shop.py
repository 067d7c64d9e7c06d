"""The shop's tables: customers and their channel identities, the catalogue,
orders with items, payments and shipments, and what the assistant writes
(tickets, after-sale requests, ratings, identity checks, rate events).

Money is integer cents. Ids that shoppers see (orders, tickets, after-sale
requests) are strings with a fixed shape, matching the NLU regexes in
``kefu.nlu.patterns``.
"""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from kefu.store.models.base import Base


class Customer(Base):
    __tablename__ = "customers"

    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False)
    phone = Column(String(20), nullable=False, index=True)
    email = Column(String(254))
    created_at = Column(DateTime, nullable=False)
    #: regular | vip | svip (kefu.routing.policy.TIERS): who is served first
    tier = Column(String(8), nullable=False, default="regular", server_default="regular")

    identities = relationship("ChannelIdentity", back_populates="customer")


class ChannelIdentity(Base):
    """How a channel knows a customer: a WeChat openid or a Telegram user
    id, the identities the platform vouches for (kefu.core.ids.VOUCHED);
    nothing else ever stands for a customer."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)
    channel = Column(String(16), nullable=False)  # wechat | telegram
    external_id = Column(String(254), nullable=False)

    customer = relationship("Customer", back_populates="identities")


class Category(Base):
    __tablename__ = "categories"

    code = Column(String(32), primary_key=True)
    name_zh = Column(String(64), nullable=False)
    name_en = Column(String(64), nullable=False)
    returnable = Column(Boolean, nullable=False)  # 7-day no-reason return allowed
    warranty_months = Column(Integer, nullable=False, default=0)


class Product(Base):
    """One sellable variant (SKU); ``base_name`` is the catalogue product it
    belongs to, the name shoppers and the NLU use."""

    __tablename__ = "products"

    id = Column(Integer, primary_key=True)
    sku = Column(String(32), nullable=False, unique=True)
    name = Column(String(128), nullable=False)
    base_name = Column(String(64), nullable=False, index=True)
    category_code = Column(String(32), ForeignKey("categories.code"), nullable=False)
    price_cents = Column(Integer, nullable=False)
    stock = Column(Integer, nullable=False)
    specs = Column(JSON, nullable=False, default=dict)

    category = relationship("Category")


class Order(Base):
    __tablename__ = "orders"

    id = Column(String(16), primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)
    status = Column(String(16), nullable=False, index=True)
    total_cents = Column(Integer, nullable=False)
    receiver_name = Column(String(64), nullable=False)
    receiver_phone = Column(String(20), nullable=False)
    address = Column(String(255), nullable=False)
    created_at = Column(DateTime, nullable=False)
    paid_at = Column(DateTime)
    shipped_at = Column(DateTime)
    delivered_at = Column(DateTime)
    cancelled_at = Column(DateTime)

    items = relationship("OrderItem", back_populates="order", order_by="OrderItem.id")
    customer = relationship("Customer")


class OrderItem(Base):
    __tablename__ = "order_items"

    id = Column(Integer, primary_key=True)
    order_id = Column(String(16), ForeignKey("orders.id"), nullable=False, index=True)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False)
    name = Column(String(128), nullable=False)  # as sold, even if the product changes
    quantity = Column(Integer, nullable=False)
    unit_price_cents = Column(Integer, nullable=False)

    order = relationship("Order", back_populates="items")
    product = relationship("Product")


class Payment(Base):
    __tablename__ = "payments"

    id = Column(Integer, primary_key=True)
    order_id = Column(String(16), ForeignKey("orders.id"), nullable=False, index=True)
    method = Column(String(16), nullable=False)  # alipay | wechat_pay | card | huabei
    amount_cents = Column(Integer, nullable=False)
    status = Column(String(16), nullable=False)  # paid | refunded
    paid_at = Column(DateTime, nullable=False)


class Shipment(Base):
    __tablename__ = "shipments"

    id = Column(Integer, primary_key=True)
    order_id = Column(String(16), ForeignKey("orders.id"), nullable=False, unique=True)
    carrier = Column(String(32), nullable=False)
    tracking_no = Column(String(32), nullable=False)
    expected_delivery = Column(DateTime)

    events = relationship("TrackingEvent", order_by="TrackingEvent.time", back_populates="shipment")


class TrackingEvent(Base):
    __tablename__ = "tracking_events"

    id = Column(Integer, primary_key=True)
    shipment_id = Column(Integer, ForeignKey("shipments.id"), nullable=False, index=True)
    time = Column(DateTime, nullable=False)
    description_zh = Column(String(255), nullable=False)
    description_en = Column(String(255), nullable=False)

    shipment = relationship("Shipment", back_populates="events")


class Ticket(Base):
    """A case for a person. ``number`` orders them; ``id`` (TK + 8 digits)
    is what the shopper is told."""

    __tablename__ = "tickets"

    number = Column(Integer, primary_key=True, autoincrement=True)
    id = Column(String(10), unique=True)
    category = Column(String(16), nullable=False)
    priority = Column(Integer, nullable=False)  # 1 = highest
    status = Column(String(16), nullable=False, index=True)
    summary = Column(Text, nullable=False)
    excerpt = Column(Text, nullable=False)
    channel = Column(String(16), nullable=False)
    conversation_key = Column(String(64), nullable=False, index=True)
    customer_id = Column(Integer, ForeignKey("customers.id"))
    order_id = Column(String(16), ForeignKey("orders.id"))
    created_at = Column(DateTime, nullable=False)
    sla_due_at = Column(DateTime, nullable=False)
    resolved_at = Column(DateTime)
    #: a complaint's category (kefu/risk/complaints.py): logistics | quality | service | price | fraud | other
    complaint_category = Column(String(16), index=True)


class AftersaleRequest(Base):
    """A return, exchange or refund request (AS + 8 digits)."""

    __tablename__ = "aftersale_requests"

    number = Column(Integer, primary_key=True, autoincrement=True)
    id = Column(String(10), unique=True)
    order_id = Column(String(16), ForeignKey("orders.id"), nullable=False, index=True)
    kind = Column(String(16), nullable=False)
    status = Column(String(16), nullable=False)
    reason = Column(Text, nullable=False)
    refund_cents = Column(Integer, nullable=False, default=0)
    created_at = Column(DateTime, nullable=False)
    updated_at = Column(DateTime, nullable=False)


class SatisfactionRating(Base):
    __tablename__ = "satisfaction_ratings"

    id = Column(Integer, primary_key=True)
    conversation_key = Column(String(64), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    score = Column(Integer, nullable=False)
    comment = Column(Text)
    intent = Column(String(64))
    created_at = Column(DateTime, nullable=False)


class VerificationAttempt(Base):
    """One proof of order ownership, kept to stop guessing: counted per
    conversation, per order (across all conversations), per client address
    and overall (actions/identity.py, ``ShopStore.proof_lock``)."""

    __tablename__ = "verification_attempts"
    __table_args__ = (
        Index("ix_verification_key_time", "conversation_key", "created_at"),
        Index("ix_verification_order_time", "order_id", "created_at"),
        Index("ix_verification_client_time", "client_key", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    conversation_key = Column(String(64), nullable=False)
    order_id = Column(String(16), nullable=False)
    client_key = Column(String(64))  # keyed hash of the client address, when the channel knows one
    ok = Column(Boolean, nullable=False, index=True)
    created_at = Column(DateTime, nullable=False, index=True)


class RateEvent(Base):
    """One use of something limited (a handoff, a ticket, a rating, a desk
    login failure, a reply mail), under a keyed hash of who used it:
    ``kefu.store.limits`` counts them in a sliding window."""

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_scope_key_time", "scope", "key", "created_at"),)

    id = Column(Integer, primary_key=True)
    scope = Column(String(32), nullable=False)
    key = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, index=True)

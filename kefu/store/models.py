"""The shop's tables: customers and their channel identities, the catalogue,
orders with items, payments and shipments, and what the assistant writes
(tickets, after-sale requests, handoffs, ratings, identity checks).

Times are stored as naive UTC (SQLite keeps no time zone); the store turns
them into aware datetimes at its boundary. Money is integer cents. Ids that
shoppers see (orders, tickets, after-sale requests) are strings with a
fixed shape, matching the NLU regexes in ``kefu.nlu.patterns``.
"""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()

ORDER_STATUSES = ("unpaid", "paid", "shipped", "delivered", "cancelled", "refunded")
AFTERSALE_KINDS = ("return", "exchange", "refund")
AFTERSALE_STATUSES = ("requested", "approved", "received", "refunded", "rejected", "closed")
TICKET_STATUSES = ("open", "pending", "resolved")
TICKET_CATEGORIES = ("complaint", "aftersale", "invoice", "handoff", "other")


class Customer(Base):
    __tablename__ = "customers"

    id = Column(Integer, primary_key=True)
    name = Column(String(64), nullable=False)
    phone = Column(String(20), nullable=False, index=True)
    email = Column(String(254))
    created_at = Column(DateTime, nullable=False)

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


class Handoff(Base):
    """A conversation waiting for, or with, a human agent."""

    __tablename__ = "handoffs"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    reason = Column(String(32), nullable=False)
    summary = Column(Text, nullable=False)
    status = Column(String(16), nullable=False)  # waiting | assigned | closed
    created_at = Column(DateTime, nullable=False)
    closed_at = Column(DateTime)  # resolved (or handed back) by the agent
    # the agent desk (kefu.store.desk)
    agent_id = Column(Integer, ForeignKey("agents.id", name="fk_handoffs_agent_id_agents"), index=True)
    language = Column(String(8))  # zh | en
    customer_id = Column(Integer, ForeignKey("customers.id", name="fk_handoffs_customer_id_customers"))
    assigned_at = Column(DateTime)
    first_response_at = Column(DateTime)


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


# -- channel connectors' shared state ------------------------------------------------
# Several server processes may run one channel: what must be seen by all of
# them (a message already taken, a cached access token, an e-mail thread)
# lives here, in the shared database.


class MessageClaim(Base):
    """A channel message taken for processing: a resend of the same id (WeChat
    retries after 5 s, an e-mail fetched twice) finds its claim and is dropped."""

    __tablename__ = "message_claims"
    __table_args__ = (UniqueConstraint("channel", "message_id"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)
    message_id = Column(String(255), nullable=False)
    claimed_at = Column(DateTime, nullable=False, index=True)


class ChannelToken(Base):
    """An access token shared by all processes (WeChat's expires in 2 h)."""

    __tablename__ = "channel_tokens"

    name = Column(String(64), primary_key=True)
    value = Column(Text, nullable=False)
    expires_at = Column(DateTime, nullable=False)


class Delivery(Base):
    """The outcome of sending one bot message to a channel, kept for failures
    (``recipient_key`` is a hash: no personal data in clear)."""

    __tablename__ = "deliveries"

    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False, index=True)
    recipient_key = Column(String(64), nullable=False)
    status = Column(String(16), nullable=False)  # sent | failed
    attempts = Column(Integer, nullable=False)
    error = Column(Text)
    created_at = Column(DateTime, nullable=False)


class EmailThread(Base):
    """What an e-mail reply needs to stay in its thread. ``address`` is the
    one participant the conversation answers (the From of its first mail)."""

    __tablename__ = "email_threads"

    conversation_id = Column(String(255), primary_key=True)
    address = Column(String(254), nullable=False)
    subject = Column(String(255), nullable=False)
    last_message_id = Column(String(255), nullable=False)
    references = Column(Text, nullable=False, default="")
    updated_at = Column(DateTime, nullable=False)


class EmailMessage(Base):
    """A Message-ID the shop itself sent, and its conversation: a mail
    continues a conversation only by replying to one of these (a shopper's
    own Message-IDs can be known to others and prove nothing)."""

    __tablename__ = "email_messages"

    message_id = Column(String(255), primary_key=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False)


# -- the human-agent desk (kefu.desk, kefu.store.desk) ---------------------------------


class Agent(Base):
    """A human agent (客服) who answers handed-off conversations."""

    __tablename__ = "agents"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(64), nullable=False)
    password_hash = Column(String(255), nullable=False)  # scrypt, never the password
    max_concurrent = Column(Integer, nullable=False, default=3)
    online = Column(Boolean, nullable=False, default=False)
    last_seen_at = Column(DateTime)
    last_assigned_at = Column(DateTime)  # round-robin: least recently assigned first
    created_at = Column(DateTime, nullable=False)


class HandoffMessage(Base):
    """A message of a handed-off conversation: what the shopper wrote while
    waiting or talking to an agent, the agent's replies (``delivered`` once
    the Rasa action has sent them) and system notes (transfers)."""

    __tablename__ = "handoff_messages"
    __table_args__ = (Index("ix_handoff_messages_handoff_delivered", "handoff_id", "delivered"),)

    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", name="fk_handoff_messages_handoff_id_handoffs"),
                        nullable=False)
    sender = Column(String(16), nullable=False)  # shopper | agent | system
    agent_id = Column(Integer, ForeignKey("agents.id", name="fk_handoff_messages_agent_id_agents"))
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False)
    delivered = Column(Boolean, nullable=False, default=False)


class AuditEntry(Base):
    """Who did what on the desk (logins, failed logins, claims, replies...).
    ``target`` is an internal id (``handoff:12``), never personal data."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_action_time", "action", "created_at"),)

    id = Column(Integer, primary_key=True)
    agent_id = Column(Integer, ForeignKey("agents.id", name="fk_audit_log_agent_id_agents"), index=True)
    action = Column(String(32), nullable=False)
    target = Column(String(64))
    detail = Column(Text)
    created_at = Column(DateTime, nullable=False)


class CannedReply(Base):
    """A ready answer an agent can insert (Chinese and English)."""

    __tablename__ = "canned_replies"

    id = Column(Integer, primary_key=True)
    title = Column(String(64), nullable=False)
    text_zh = Column(Text, nullable=False)
    text_en = Column(Text, nullable=False)


class DeskSession(Base):
    """A logged-in agent; the cookie holds the token, the table its SHA-256,
    so that several desk processes share sessions."""

    __tablename__ = "desk_sessions"

    token_hash = Column(String(64), primary_key=True)
    agent_id = Column(Integer, ForeignKey("agents.id", name="fk_desk_sessions_agent_id_agents"), nullable=False,
                      index=True)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False, index=True)


# -- service analytics (kefu.analytics) -------------------------------------------------
# Conversation events (from the tracker store or the event broker) folded into
# facts the dashboard, the report and the trainers' loop read. Handoffs and
# ratings are read where they already live (handoffs, satisfaction_ratings).

from sqlalchemy import BigInteger, Float  # noqa: E402


class AnalyticsCursor(Base):
    """How far a source has been ingested: the last ``events.id`` of the SQL
    tracker store, or the count of broker messages taken."""

    __tablename__ = "analytics_cursors"

    source = Column(String(64), primary_key=True)
    position = Column(BigInteger, nullable=False, default=0)
    updated_at = Column(DateTime, nullable=False)


class AnalyticsConversation(Base):
    """One conversation: a Rasa session of one sender (a new session, after
    ``session_started``, is a new conversation)."""

    __tablename__ = "analytics_conversations"
    __table_args__ = (Index("ix_analytics_conversations_key_start", "conversation_key", "started_at"),)

    id = Column(Integer, primary_key=True)
    #: the sender as a keyed hash (kefu.core.ids.conversation_key): analytics
    #: never stores an id in clear
    conversation_key = Column(String(64), nullable=False, index=True)
    channel = Column(String(32))  # of its conversation id (web, rest, wechat, telegram, mail)
    started_at = Column(DateTime, nullable=False, index=True)
    last_event_at = Column(DateTime, nullable=False)
    user_messages = Column(Integer, nullable=False, default=0)


class AnalyticsTurn(Base):
    """One user message and how the bot understood it."""

    __tablename__ = "analytics_turns"
    __table_args__ = (UniqueConstraint("conversation_key", "event_time", name="uq_analytics_turns_key_time"),)

    id = Column(Integer, primary_key=True)
    conversation_id = Column(Integer, ForeignKey("analytics_conversations.id",
                                                 name="fk_analytics_turns_conversation_id"), nullable=False, index=True)
    conversation_key = Column(String(64), nullable=False)
    event_time = Column(BigInteger, nullable=False)  # the event's timestamp in microseconds: the broker's dedup key
    created_at = Column(DateTime, nullable=False, index=True)
    channel = Column(String(32))
    text = Column(Text)  # personal data redacted (kefu.privacy.redact)
    intent = Column(String(128), index=True)
    retrieval_intent = Column(String(191))  # faq/returns, ask_shipping_time/shipping_fee
    confidence = Column(Float)
    fallback = Column(Boolean, nullable=False, default=False)
    low_confidence = Column(Boolean, nullable=False, default=False)


class MisunderstoodMessage(Base):
    """A user message the bot fell back on or was unsure of, for trainers:
    they label it with the right intent and export the labels as NLU YAML."""

    __tablename__ = "misunderstood_messages"

    id = Column(Integer, primary_key=True)
    turn_id = Column(Integer, ForeignKey("analytics_turns.id", name="fk_misunderstood_messages_turn_id"),
                     nullable=False, unique=True)
    text = Column(Text, nullable=False)
    predicted_intent = Column(String(191))  # the best guess that was not nlu_fallback
    confidence = Column(Float)
    reason = Column(String(16), nullable=False)  # fallback | low_confidence
    channel = Column(String(32))
    created_at = Column(DateTime, nullable=False, index=True)
    status = Column(String(16), nullable=False, default="new", index=True)  # new | labelled | ignored | exported
    label = Column(String(191))  # the intent a trainer chose
    labelled_by = Column(Integer, ForeignKey("agents.id", name="fk_misunderstood_messages_labelled_by_agents"))
    labelled_at = Column(DateTime)
    exported_at = Column(DateTime)

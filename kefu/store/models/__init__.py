"""Kefu's tables, one module per area: shop, channels, desk, analytics, notify, evidence.

Importing the package registers every table on ``Base`` (alembic and the
relationships between areas need them all); callers import the classes from
here.
"""
from __future__ import annotations

from kefu.store.models.analytics import (
    AnalyticsConversation,
    AnalyticsCursor,
    AnalyticsTurn,
    FaqCandidate,
    FaqProposal,
    MisunderstoodMessage,
)
from kefu.store.models.base import (
    AFTERSALE_KINDS,
    AFTERSALE_STATUSES,
    ORDER_STATUSES,
    TICKET_CATEGORIES,
    TICKET_STATUSES,
    Base,
)
from kefu.store.models.channels import (
    ChannelToken,
    Delivery,
    EmailMessage,
    EmailThread,
    MessageClaim,
)
from kefu.store.models.desk import (
    Agent,
    AgentShift,
    AgentSkill,
    AssistOutcome,
    AuditEntry,
    CannedReply,
    DeskAlert,
    DeskSession,
    Handoff,
    HandoffMessage,
)
from kefu.store.models.evidence import Evidence
from kefu.store.models.notify import (
    NOTIFICATION_STATUSES,
    NOTIFY_EVENT_TYPES,
    Notification,
    NotificationOptOut,
    OrderFollower,
    ShopEvent,
    WebPage,
)
from kefu.store.models.shop import (
    AftersaleRequest,
    Category,
    ChannelIdentity,
    Customer,
    Order,
    OrderItem,
    Payment,
    Product,
    RateEvent,
    SatisfactionRating,
    Shipment,
    Ticket,
    TrackingEvent,
    VerificationAttempt,
)

__all__ = [
    "Base",
    "ORDER_STATUSES",
    "AFTERSALE_KINDS",
    "AFTERSALE_STATUSES",
    "TICKET_STATUSES",
    "TICKET_CATEGORIES",
    "Customer",
    "ChannelIdentity",
    "Category",
    "Product",
    "Order",
    "OrderItem",
    "Payment",
    "Shipment",
    "TrackingEvent",
    "Ticket",
    "AftersaleRequest",
    "SatisfactionRating",
    "VerificationAttempt",
    "RateEvent",
    "MessageClaim",
    "ChannelToken",
    "Delivery",
    "EmailThread",
    "EmailMessage",
    "Handoff",
    "Agent",
    "HandoffMessage",
    "AuditEntry",
    "CannedReply",
    "DeskSession",
    "AnalyticsCursor",
    "AnalyticsConversation",
    "AnalyticsTurn",
    "MisunderstoodMessage",
    "NOTIFY_EVENT_TYPES",
    "NOTIFICATION_STATUSES",
    "ShopEvent",
    "OrderFollower",
    "Notification",
    "NotificationOptOut",
    "WebPage",
    "Evidence",
    "AssistOutcome",
    "FaqCandidate",
    "FaqProposal",
    "AgentSkill",
    "AgentShift",
    "DeskAlert",
]

"""The declarative base every table shares, and the values some columns take.

Times are stored as naive UTC (SQLite keeps no time zone); the stores turn
them into aware datetimes at their boundary (kefu.core.clock).
"""
from __future__ import annotations

from sqlalchemy.orm import declarative_base

Base = declarative_base()

ORDER_STATUSES = ("unpaid", "paid", "shipped", "delivered", "cancelled", "refunded")
AFTERSALE_KINDS = ("return", "exchange", "refund")
AFTERSALE_STATUSES = ("requested", "approved", "received", "refunded", "rejected", "closed")
TICKET_STATUSES = ("open", "pending", "resolved", "closed")  # the agent holding the chat moves them (kefu.store.desk)
TICKET_CATEGORIES = ("complaint", "aftersale", "invoice", "handoff", "other")

"""The channel connectors' shared state (kefu.state.sql).

Several server processes may run one channel: what must be seen by all of
them (a message already taken, a cached access token, an e-mail thread)
lives here, in the shared database.
"""
from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, String, Text, UniqueConstraint

from kefu.store.models.base import Base


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

"""Service analytics (kefu.analytics).

Conversation events (from the tracker store or the event broker) folded into
facts the dashboard, the report and the trainers' loop read. Handoffs and
ratings are read where they already live (handoffs, satisfaction_ratings).
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)

from kefu.store.models.base import Base


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
    text = Column(Text)  # personal data redacted (kefu.core.privacy.redact)
    intent = Column(String(128), index=True)
    retrieval_intent = Column(String(191))  # faq/returns, ask_shipping_time/shipping_fee
    confidence = Column(Float)
    fallback = Column(Boolean, nullable=False, default=False)
    low_confidence = Column(Boolean, nullable=False, default=False)


class AnalyticsJourney(Base):
    """How far one conversation got through a flow (kefu/analytics/journeys.py):
    the furthest step's index and the shopper's latest words before it ended
    (anonymised, abuse masked)."""

    __tablename__ = "analytics_journeys"
    __table_args__ = (UniqueConstraint("conversation_id", "flow", name="uq_analytics_journeys_conversation_flow"),
                      Index("ix_analytics_journeys_flow_start", "flow", "started_at"))

    id = Column(Integer, primary_key=True)
    conversation_id = Column(Integer, ForeignKey("analytics_conversations.id",
                                                 name="fk_analytics_journeys_conversation_id"), nullable=False)
    flow = Column(String(32), nullable=False)
    started_at = Column(DateTime, nullable=False)
    furthest = Column(Integer, nullable=False, default=0)
    last_text = Column(Text)
    updated_at = Column(DateTime, nullable=False)


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


class FaqCandidate(Base):
    """A question the bot could not answer and what the agent replied
    (kefu/analytics/answers.py), personal data replaced by placeholders; a
    trainer groups, edits and approves candidates into a proposal."""

    __tablename__ = "faq_candidates"
    __table_args__ = (UniqueConstraint("handoff_id", "question", name="uq_faq_candidates_handoff_question"),)

    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", name="fk_faq_candidates_handoff_id_handoffs"),
                        nullable=False, index=True)
    question = Column(String(500), nullable=False)
    answer = Column(Text, nullable=False)
    language = Column(String(8), nullable=False)  # zh | en
    intent = Column(String(191))  # the bot's best guess, when it had one
    status = Column(String(16), nullable=False, default="new", index=True)  # new | approved | rejected
    proposal_id = Column(Integer, ForeignKey("faq_proposals.id", name="fk_faq_candidates_proposal_id_faq_proposals"))
    created_at = Column(DateTime, nullable=False)


class FaqProposal(Base):
    """A new FAQ topic a trainer approved: its question variations and its
    answer in both languages, exported as ``faq/<topic>`` examples and the
    ``utter_faq/<topic>`` response."""

    __tablename__ = "faq_proposals"

    id = Column(Integer, primary_key=True)
    topic = Column(String(64), nullable=False, unique=True)
    questions = Column(Text, nullable=False)  # JSON list
    answer_zh = Column(Text, nullable=False)
    answer_en = Column(Text, nullable=False)
    approved_by = Column(Integer, ForeignKey("agents.id", name="fk_faq_proposals_approved_by_agents"))
    approved_at = Column(DateTime, nullable=False)
    exported_at = Column(DateTime)

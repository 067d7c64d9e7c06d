"""The human-agent desk's tables (kefu.store.desk): handoffs, agents, their
messages, sessions, canned replies and the audit log."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Text

from kefu.store.models.base import Base


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
    # the honest queue (kefu/store/desk/waiting.py): the place the shopper
    # was last told, when their estimate runs out, when they were told it did
    told_position = Column(Integer)
    estimate_due_at = Column(DateTime)
    reminded_at = Column(DateTime)
    # routing (kefu/routing/): the skill group that serves it, since when,
    # the group it overflowed from, its place in the line (higher first) and
    # the customer's tier when it was queued; ``routing`` holds the notes
    # that explain each decision (JSON list), shown in the summary
    skill_group = Column(String(16), index=True)
    group_since = Column(DateTime)
    overflowed_from = Column(String(16))
    priority = Column(Integer, nullable=False, default=0, server_default="0")
    tier = Column(String(8))
    routing = Column(Text)
    # risk control (kefu/risk/): when an escalation signal first raised it
    escalated_at = Column(DateTime)


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


class AgentSkill(Base):
    """A skill group an agent serves (routing.yml's groups). An agent with
    none serves every group."""

    __tablename__ = "agent_skills"

    agent_id = Column(Integer, ForeignKey("agents.id", name="fk_agent_skills_agent_id_agents"), primary_key=True)
    skill = Column(String(16), primary_key=True)


class AgentShift(Base):
    """One shift of the roster (排班): a weekday and local minutes in the
    shop's zone (kefu/routing/roster.py)."""

    __tablename__ = "agent_shifts"

    id = Column(Integer, primary_key=True)
    agent_id = Column(Integer, ForeignKey("agents.id", name="fk_agent_shifts_agent_id_agents"), nullable=False,
                      index=True)
    weekday = Column(Integer, nullable=False)  # 0 = Monday
    start_minute = Column(Integer, nullable=False)
    end_minute = Column(Integer, nullable=False)


class DeskAlert(Base):
    """Something a supervisor must see on the desk: a wait that overflowed
    to a backup group. ``text`` names groups and waits, never the shopper."""

    __tablename__ = "desk_alerts"
    __table_args__ = (Index("ix_desk_alerts_open", "acknowledged_at", "id"),)

    id = Column(Integer, primary_key=True)
    kind = Column(String(16), nullable=False)  # overflow
    handoff_id = Column(Integer, ForeignKey("handoffs.id", name="fk_desk_alerts_handoff_id_handoffs"), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False)
    acknowledged_at = Column(DateTime)
    acknowledged_by = Column(Integer, ForeignKey("agents.id", name="fk_desk_alerts_acknowledged_by_agents"))


class RiskEvent(Base):
    """An abusive message or an escalation signal in a conversation handed
    to the desk: kinds only, never the words (kefu/store/desk/risk.py)."""

    __tablename__ = "risk_events"
    __table_args__ = (Index("ix_risk_events_conversation_time", "conversation_id", "created_at"),)

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", name="fk_risk_events_handoff_id_handoffs"))
    kind = Column(String(16), nullable=False)  # abuse | regulator | legal | media | threat | self_harm | negative
    created_at = Column(DateTime, nullable=False)


class BlockedConversation(Base):
    """A conversation a supervisor blocked for repeated abuse: its messages
    get a polite notice instead of the bot or an agent (channels/edge.py)."""

    __tablename__ = "blocked_conversations"

    conversation_id = Column(String(255), primary_key=True)
    reason = Column(String(200), nullable=False)
    blocked_by = Column(Integer, ForeignKey("agents.id", name="fk_blocked_conversations_blocked_by_agents"),
                        nullable=False)
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


class AssistOutcome(Base):
    """What an agent did with the replies the desk suggested for a shopper's
    message (kefu/desk/assist.py): sent one as it was (``used``), after
    changing it (``edited``), or wrote their own (``ignored``). The
    dashboard's acceptance rate per intent counts these."""

    __tablename__ = "assist_outcomes"
    __table_args__ = (Index("ix_assist_outcomes_time", "created_at"),)

    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", name="fk_assist_outcomes_handoff_id_handoffs"),
                        nullable=False, index=True)
    agent_id = Column(Integer, ForeignKey("agents.id", name="fk_assist_outcomes_agent_id_agents"))
    intent = Column(String(191))  # what the model understood of the shopper's message
    kind = Column(String(16))  # answer | order | canned: of the suggestion used (none when ignored)
    outcome = Column(String(16), nullable=False)  # used | edited | ignored
    created_at = Column(DateTime, nullable=False)

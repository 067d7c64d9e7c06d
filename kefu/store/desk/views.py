"""The values the desk store hands to its callers: frozen dataclasses,
never ORM objects, so nothing is lazily loaded outside a transaction."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple


@dataclass(frozen=True)
class HandoffView:
    id: int
    conversation_id: str
    channel: str
    reason: str
    summary: Any  # the dict the action gave, or its text
    status: str  # waiting | assigned | closed
    language: str
    customer_id: Optional[int]
    agent_id: Optional[int]
    agent_name: Optional[str]
    created_at: datetime
    assigned_at: Optional[datetime]
    first_response_at: Optional[datetime]
    closed_at: Optional[datetime]
    position: Optional[int] = None  # 1-based place in its group's line, when waiting
    skill_group: Optional[str] = None  # who serves it (routing.yml)
    overflowed_from: Optional[str] = None
    priority: int = 0  # higher is served first
    tier: Optional[str] = None  # the customer's, when queued
    routing: List[Dict[str, Any]] = field(default_factory=list)  # the notes that explain the routing


@dataclass(frozen=True)
class AgentView:
    id: int
    username: str
    display_name: str
    max_concurrent: int
    online: bool
    present: bool  # online and seen recently: eligible for assignment
    open_chats: int
    last_seen_at: Optional[datetime]
    skills: Tuple[str, ...] = ()  # skill groups served (none: every group)
    shifts: str = ""  # the roster, "mon 09:00-18:00, ..." (empty: not on the roster)
    on_shift: bool = True


@dataclass(frozen=True)
class MessageView:
    id: int
    handoff_id: int
    sender: str  # shopper | agent | system
    agent_id: Optional[int]
    text: str
    created_at: datetime
    delivered: bool


@dataclass(frozen=True)
class CannedView:
    id: int
    title: str
    text_zh: str
    text_en: str

    def text(self, language: str) -> str:
        return self.text_en if language == "en" else self.text_zh


@dataclass(frozen=True)
class AuditView:
    id: int
    agent_id: Optional[int]
    action: str
    target: Optional[str]
    detail: Optional[str]
    created_at: datetime


@dataclass(frozen=True)
class TicketRow:
    """A ticket of the shopper, as the desk shows it beside the chat."""

    id: str  # TK + 8 digits, what the shopper is told
    category: str
    priority: int  # 1 = highest
    status: str
    summary: str
    order_id: Optional[str]
    created_at: datetime
    sla_due_at: datetime


@dataclass(frozen=True)
class AgentLoad:
    agent_id: int
    display_name: str
    open_chats: int
    handled: int  # closed since the start of the metrics window
    present: bool


@dataclass(frozen=True)
class Metrics:
    since: datetime
    waiting: int
    assigned: int
    longest_wait_seconds: Optional[float]  # the oldest waiting handoff, now
    current_avg_wait_seconds: Optional[float]  # average age of the waiting ones, now
    avg_wait_seconds: Optional[float]  # queued -> assigned, for those assigned in the window
    avg_first_response_seconds: Optional[float]  # queued -> first agent reply, in the window
    handled_total: int
    per_agent: List[AgentLoad] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """The result of an agent's action on a handoff."""

    ok: bool
    reason: Optional[str] = None  # not_found | forbidden | taken | closed | no_agent
    handoff: Optional[HandoffView] = None


class Forbidden(Exception):
    pass


def may_see(handoff: HandoffView, agent_id: int) -> bool:
    """An agent sees the waiting queue and their own chats, nothing else."""
    return handoff.status == "waiting" or handoff.agent_id == agent_id


@dataclass(frozen=True)
class AlertView:
    """A supervisor's alert (an overflow): ids, groups and waits only."""

    id: int
    kind: str
    handoff_id: int
    text: str
    created_at: datetime
    acknowledged_at: Optional[datetime]


@dataclass(frozen=True)
class GroupLine:
    """One skill group's line now, as the supervisor sees it."""

    group: str
    label: str
    waiting: int
    oldest_wait_seconds: Optional[int]
    agents_present: int  # present and on shift, serving the group
    backup: Optional[str]

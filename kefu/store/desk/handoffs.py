"""Handoff rows as the other modules need them, in the caller's session:
the conversation's open handoff, its place in the queue, who may act on it,
and the views made from the rows."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Union

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from kefu.core.clock import from_db
from kefu.store.desk.views import HandoffView, MessageView, Outcome
from kefu.store.models import Agent, Handoff, HandoffMessage

#: the statuses of a handoff that is not over
OPEN = ("waiting", "assigned")
MAX_TEXT = 4000


def open_handoff(s: Session, conversation_id: str) -> Optional[Handoff]:
    return s.execute(
        select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN))
        .order_by(Handoff.id.desc()).limit(1)
    ).scalar_one_or_none()


def line_order() -> tuple:
    """The order a line is served in: higher priority first (a VIP
    overtakes), then who came first."""
    return Handoff.priority.desc(), Handoff.id


def queue_position(s: Session, handoff: Handoff) -> int:
    """The 1-based place in the line of the handoff's group (the waiting
    chats the same agents serve, in :func:`line_order`); an open handoff
    already with an agent counts as 1: served next."""
    if handoff.status != "waiting":
        return 1
    ahead = or_(Handoff.priority > handoff.priority,
                and_(Handoff.priority == handoff.priority, Handoff.id <= handoff.id))
    same_line = Handoff.skill_group == handoff.skill_group if handoff.skill_group is not None \
        else Handoff.skill_group.is_(None)
    return s.execute(select(func.count()).where(Handoff.status == "waiting", same_line, ahead)).scalar_one()


def routing_notes(h: Handoff) -> List[Dict[str, Any]]:
    try:
        notes = json.loads(h.routing or "[]")
    except ValueError:
        return []
    return notes if isinstance(notes, list) else []


def assigned_to(s: Session, handoff_id: int, agent_id: int) -> Union[Handoff, Outcome]:
    """The handoff if ``agent_id`` holds it; otherwise the refusal, an
    Outcome (``not_found``, or ``forbidden`` for a chat that is waiting,
    closed or another agent's): only the assigned agent may act on a chat."""
    handoff = s.get(Handoff, handoff_id)
    if handoff is None:
        return Outcome(False, "not_found")
    if handoff.status != "assigned" or handoff.agent_id != agent_id:
        return Outcome(False, "forbidden")
    return handoff


def agent_names(s: Session) -> Dict[int, str]:
    return dict(s.execute(select(Agent.id, Agent.display_name)).all())


def _summary(text: str) -> Any:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return text
    return value if isinstance(value, dict) else text


def handoff_view(s: Session, h: Handoff, names: Optional[Dict[int, str]] = None, position: Optional[int] = None,
                 with_position: bool = False) -> HandoffView:
    if names is None:
        names = agent_names(s) if h.agent_id is not None else {}
    if with_position and h.status == "waiting":
        position = queue_position(s, h)
    return HandoffView(
        id=h.id, conversation_id=h.conversation_id, channel=h.channel, reason=h.reason, summary=_summary(h.summary),
        status=h.status, language=h.language or "zh", customer_id=h.customer_id, agent_id=h.agent_id,
        agent_name=names.get(h.agent_id) if h.agent_id is not None else None, created_at=from_db(h.created_at),
        assigned_at=from_db(h.assigned_at), first_response_at=from_db(h.first_response_at),
        closed_at=from_db(h.closed_at), position=position if h.status == "waiting" else None,
        skill_group=h.skill_group, overflowed_from=h.overflowed_from, priority=int(h.priority or 0), tier=h.tier,
        routing=routing_notes(h),
    )


def message_view(m: HandoffMessage) -> MessageView:
    return MessageView(m.id, m.handoff_id, m.sender, m.agent_id, m.text, from_db(m.created_at), bool(m.delivered))

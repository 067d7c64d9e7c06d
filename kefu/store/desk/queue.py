"""The handoff queue and the messages of handed-off conversations.

The Rasa actions call ``queue_handoff``, ``active_handoff``,
``add_shopper_message`` and ``pop_agent_messages``; the desk reads the
queue, a handoff and its transcript, and the assigned agent replies and
resolves. Each method is one transaction; a message is handed out once
(a conditional UPDATE marks it delivered).
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from sqlalchemy import select, update

from kefu.core.clock import to_db, utcnow
from kefu.risk import words as risk_words
from kefu.store.db import session_scope
from kefu.store.desk.assignment import Assignment
from kefu.store.desk.audit import write_audit
from kefu.store.desk.handoffs import (
    MAX_TEXT,
    agent_names,
    assigned_to,
    handoff_view,
    line_order,
    message_view,
    open_handoff,
    queue_position,
)
from kefu.store.desk.risk import RiskControl
from kefu.store.desk.routing import Routing
from kefu.store.desk.views import Forbidden, HandoffView, MessageView, Outcome, may_see
from kefu.store.models import Handoff, HandoffMessage


class HandoffQueue(Routing, RiskControl, Assignment):
    # ---- what the Rasa actions call

    def queue_handoff(
        self,
        conversation_id: str,
        channel: str,
        reason: str,
        summary: Any,
        language: Optional[str] = None,
        customer_id: Optional[int] = None,
    ) -> int:
        """Queue the conversation for a human, once per open handoff, routed
        to the skill group and priority its requests and the customer's tier
        call for (kefu/routing/), and return its 1-based place in that
        group's line (an open handoff already with an agent counts as 1:
        served next). Then assigns waiting handoffs to present agents."""
        text = summary if isinstance(summary, str) else json.dumps(summary, ensure_ascii=False, default=str)
        if language is None and isinstance(summary, dict):
            language = summary.get("language")
        language = "en" if language == "en" else "zh"
        with session_scope(self.engine) as s:
            mine = open_handoff(s, conversation_id)
            if mine is None:
                now = utcnow()
                route = self.route(s, summary, reason, customer_id)
                note = {**route.note, "at": now.isoformat()}
                mine = Handoff(
                    conversation_id=conversation_id, channel=channel[:16], reason=(reason or "")[:32],
                    summary=text[:MAX_TEXT], status="waiting", created_at=to_db(now),
                    language=language, customer_id=customer_id, skill_group=route.group, group_since=to_db(now),
                    priority=route.priority, tier=route.tier, routing=json.dumps([note], ensure_ascii=False),
                    escalated_at=to_db(now) if note["kind"] == "risk" else None,
                )
                s.add(mine)
                s.flush()
                if isinstance(summary, dict) and isinstance(summary.get("risk"), dict):
                    self.record_queued_risk(s, mine, summary["risk"], now)
            position = queue_position(s, mine)
        self.assign_waiting()
        return position

    def active_handoff(self, conversation_id: str) -> Optional[HandoffView]:
        """The conversation's open handoff (waiting or assigned), or None."""
        with session_scope(self.engine) as s:
            handoff = open_handoff(s, conversation_id)
            return handoff_view(s, handoff, with_position=True) if handoff is not None else None

    def add_shopper_message(self, conversation_id: str, text: str) -> None:
        """Keep what the shopper wrote during the handoff (no open handoff:
        nothing is kept), and what it carried: abuse, an escalation signal
        (kefu/store/desk/risk.py)."""
        with session_scope(self.engine) as s:
            handoff = open_handoff(s, conversation_id)
            if handoff is not None and text:
                now = utcnow()
                s.add(HandoffMessage(handoff_id=handoff.id, sender="shopper", text=text[:MAX_TEXT],
                                     created_at=to_db(now), delivered=True))
                assessment = risk_words.assess(text)
                if assessment.abuse or assessment.signals:
                    self.record_risk(s, handoff, assessment, now)

    def pop_agent_messages(self, conversation_id: str) -> List[str]:
        """The agents' undelivered texts to this conversation, oldest first,
        now marked delivered (each is returned once)."""
        with session_scope(self.engine) as s:
            rows = s.execute(
                select(HandoffMessage)
                .join(Handoff, Handoff.id == HandoffMessage.handoff_id)
                .where(Handoff.conversation_id == conversation_id, HandoffMessage.sender == "agent",
                       HandoffMessage.delivered.is_(False))
                .order_by(HandoffMessage.id)
            ).scalars().all()
            texts = []
            for row in rows:
                taken = s.execute(
                    update(HandoffMessage)
                    .where(HandoffMessage.id == row.id, HandoffMessage.delivered.is_(False))
                    .values(delivered=True)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if taken:
                    texts.append(row.text)
            return texts

    # ---- what the desk reads

    def queue(self, agent_id: int) -> Dict[str, List[HandoffView]]:
        """What an agent may see: the waiting handoffs in line order (higher
        priority first, then oldest; each with its place in its group's
        line) and their own open ones."""
        with session_scope(self.engine) as s:
            waiting = s.execute(
                select(Handoff).where(Handoff.status == "waiting").order_by(*line_order())
            ).scalars().all()
            mine = s.execute(
                select(Handoff).where(Handoff.status == "assigned", Handoff.agent_id == agent_id)
                .order_by(Handoff.assigned_at, Handoff.id)
            ).scalars().all()
            names = agent_names(s)
            places: Dict[Optional[str], int] = {}
            views = []
            for h in waiting:
                places[h.skill_group] = places.get(h.skill_group, 0) + 1
                views.append(handoff_view(s, h, names=names, position=places[h.skill_group]))
            return {
                "waiting": views,
                "mine": [handoff_view(s, h, names=names) for h in mine],
            }

    def handoff(self, handoff_id: int) -> Optional[HandoffView]:
        with session_scope(self.engine) as s:
            handoff = s.get(Handoff, handoff_id)
            return handoff_view(s, handoff, with_position=True) if handoff is not None else None

    def handoff_for_agent(self, handoff_id: int, agent_id: int) -> HandoffView:
        """The handoff if the agent may see it (waiting, or theirs); raises
        KeyError (no such handoff) or Forbidden."""
        view = self.handoff(handoff_id)
        if view is None:
            raise KeyError(handoff_id)
        if not may_see(view, agent_id):
            raise Forbidden(handoff_id)
        return view

    def messages(self, handoff_id: int) -> List[MessageView]:
        with session_scope(self.engine) as s:
            rows = s.execute(select(HandoffMessage).where(HandoffMessage.handoff_id == handoff_id)
                             .order_by(HandoffMessage.id)).scalars()
            return [message_view(m) for m in rows]

    # ---- what the assigned agent does

    def reply(self, handoff_id: int, agent_id: int, text: str) -> Outcome:
        """Store the agent's reply, undelivered (the Rasa action sends it)."""
        text = (text or "").strip()
        if not text:
            return Outcome(False, "empty")
        now = utcnow()
        with session_scope(self.engine) as s:
            handoff = assigned_to(s, handoff_id, agent_id)
            if isinstance(handoff, Outcome):
                return handoff
            s.add(HandoffMessage(handoff_id=handoff_id, sender="agent", agent_id=agent_id, text=text[:MAX_TEXT],
                                 created_at=to_db(now), delivered=False))
            if handoff.first_response_at is None:
                handoff.first_response_at = to_db(now)
            write_audit(s, agent_id, "reply", f"handoff:{handoff_id}", f"{len(text)} chars")
            s.flush()
            return Outcome(True, handoff=handoff_view(s, handoff))

    def resolve(self, handoff_id: int, agent_id: int) -> Outcome:
        """Close the handoff (the desk then hands the chat back to the bot)."""
        now = utcnow()
        with session_scope(self.engine) as s:
            handoff = assigned_to(s, handoff_id, agent_id)
            if isinstance(handoff, Outcome):
                return handoff
            handoff.status, handoff.closed_at = "closed", to_db(now)
            write_audit(s, agent_id, "resolve", f"handoff:{handoff_id}", None)
            s.flush()
            view = handoff_view(s, handoff)
        self.assign_waiting()
        return Outcome(True, handoff=view)

"""Who serves a handoff (客服轮岗).

Assignment is automatic: a waiting handoff goes to the *present* agent
(online, seen within ``presence_seconds``) below their cap with the fewest
open chats, ties broken by the least recently assigned. An agent may also
claim a waiting handoff (no cap: their own choice) and transfer an assigned
one to another agent or back to the queue. Every change of a handoff is a
conditional UPDATE, so several desk processes and the action server can run
side by side without assigning a chat twice.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kefu.core.clock import to_db, utcnow
from kefu.store.db import session_scope
from kefu.store.desk.audit import write_audit
from kefu.store.desk.base import StoreBase
from kefu.store.desk.handoffs import assigned_to, handoff_view
from kefu.store.desk.views import Outcome
from kefu.store.models import Agent, Handoff, HandoffMessage


@dataclass(frozen=True)
class Candidate:
    """A present agent, as automatic assignment weighs them."""

    agent_id: int
    open_chats: int
    cap: int  # the agent's max_concurrent
    last_assigned_at: Optional[datetime]  # naive UTC, as stored

    @property
    def has_room(self) -> bool:
        return self.open_chats < self.cap

    def rank(self) -> Tuple[int, datetime, int]:
        """Fewest open chats first, then least recently assigned."""
        return self.open_chats, self.last_assigned_at or datetime.min, self.agent_id



def _take(s: Session, handoff_id: int, agent_id: int, now: datetime) -> bool:
    """Assign a handoff that is still waiting (a conditional update: of two
    takers, one wins) and note when the agent last got one."""
    taken = s.execute(
        update(Handoff).where(Handoff.id == handoff_id, Handoff.status == "waiting")
        .values(status="assigned", agent_id=agent_id, assigned_at=to_db(now))
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken:
        s.execute(update(Agent).where(Agent.id == agent_id).values(last_assigned_at=to_db(now)))
    return bool(taken)

class Assignment(StoreBase):
    def assign_waiting(self, now: Optional[datetime] = None) -> List[Tuple[int, int]]:
        """Give waiting handoffs, oldest first, to present agents below their
        cap: fewest open chats first, then least recently assigned.
        Returns the (handoff id, agent id) pairs made."""
        now = now or utcnow()
        made: List[Tuple[int, int]] = []
        with session_scope(self.engine) as s:
            waiting = s.execute(
                select(Handoff.id).where(Handoff.status == "waiting").order_by(Handoff.id)
            ).scalars().all()
            if not waiting:
                return made
            candidates = self._present_agents(s, now)
            for handoff_id in waiting:
                eligible = [c for c in candidates if c.has_room]
                if not eligible:
                    break
                eligible.sort(key=Candidate.rank)
                agent_id = eligible[0].agent_id
                if not _take(s, handoff_id, agent_id, now):
                    continue
                write_audit(s, None, "auto_assign", f"handoff:{handoff_id}", f"agent:{agent_id}")
                made.append((handoff_id, agent_id))
                candidates = [
                    dataclasses.replace(c, open_chats=c.open_chats + 1, last_assigned_at=to_db(now))
                    if c.agent_id == agent_id else c
                    for c in candidates
                ]
        return made

    def claim(self, handoff_id: int, agent_id: int) -> Outcome:
        """An agent takes a waiting handoff (their own choice: no cap)."""
        now = utcnow()
        with session_scope(self.engine) as s:
            handoff = s.get(Handoff, handoff_id)
            if handoff is None:
                return Outcome(False, "not_found")
            if not _take(s, handoff_id, agent_id, now):
                s.refresh(handoff)
                if handoff.status == "closed":
                    return Outcome(False, "closed")
                return Outcome(False, "already_yours" if handoff.agent_id == agent_id else "taken")
            write_audit(s, agent_id, "claim", f"handoff:{handoff_id}", None)
            s.refresh(handoff)
            return Outcome(True, handoff=handoff_view(s, handoff))

    def transfer(self, handoff_id: int, agent_id: int, to_agent_id: Optional[int]) -> Outcome:
        """Hand an assigned chat to another agent, or back to the queue
        (``to_agent_id`` None). Only the assigned agent may transfer."""
        now = utcnow()
        with session_scope(self.engine) as s:
            handoff = assigned_to(s, handoff_id, agent_id)
            if isinstance(handoff, Outcome):
                return handoff
            if to_agent_id == agent_id:
                return Outcome(False, "same_agent")
            values: Dict[str, Any]
            if to_agent_id is not None:
                target = s.get(Agent, to_agent_id)
                if target is None:
                    return Outcome(False, "no_agent")
                values = dict(agent_id=to_agent_id, assigned_at=to_db(now))
                note = f"转接给 {target.display_name} / transferred to {target.display_name}"
            else:
                values = dict(agent_id=None, status="waiting", assigned_at=None)
                note = "转回排队 / returned to the queue"
            moved = s.execute(
                update(Handoff)
                .where(Handoff.id == handoff_id, Handoff.status == "assigned", Handoff.agent_id == agent_id)
                .values(**values).execution_options(synchronize_session=False)
            ).rowcount
            if not moved:
                return Outcome(False, "forbidden")
            if to_agent_id is not None:
                s.execute(update(Agent).where(Agent.id == to_agent_id).values(last_assigned_at=to_db(now)))
            s.add(HandoffMessage(handoff_id=handoff_id, sender="system", agent_id=agent_id, text=note,
                                 created_at=to_db(now), delivered=True))
            write_audit(s, agent_id, "transfer", f"handoff:{handoff_id}",
                        f"agent:{to_agent_id}" if to_agent_id is not None else "queue")
            s.refresh(handoff)
            view = handoff_view(s, handoff)
        if to_agent_id is None:
            self.assign_waiting()
        return Outcome(True, handoff=view)

    def _present_agents(self, s: Session, now: datetime) -> List[Candidate]:
        """The present agents, each with their open chats, cap and last
        assignment (their rows locked for the rest of the transaction)."""
        open_ = dict(s.execute(select(Handoff.agent_id, func.count()).where(Handoff.status == "assigned")
                               .group_by(Handoff.agent_id)).all())
        rows = s.execute(
            select(Agent).where(Agent.online.is_(True), Agent.last_seen_at >= to_db(now - self.presence))
            .order_by(Agent.id).with_for_update()
        ).scalars()
        return [Candidate(a.id, open_.get(a.id, 0), a.max_concurrent, a.last_assigned_at) for a in rows]

"""Who serves a handoff (客服轮岗).

Assignment is automatic. Waiting handoffs are served in line order (higher
priority first, so a VIP overtakes; then who came first), each by an agent
who serves its skill group (or the group it overflowed from), is *present*
(online, seen within ``presence_seconds``), on shift (kefu/routing/roster.py)
and below their cap: specialists of the group before agents who serve every
group, then the fewest open chats, then the least recently assigned. A VIP
is first in line but never beyond an agent's cap. An agent may also
claim a waiting handoff (no cap: their own choice) and transfer an assigned
one to another agent or back to the queue. Every change of a handoff is a
conditional UPDATE, so several desk processes and the action server can run
side by side without assigning a chat twice.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from kefu.core.clock import to_db, utcnow
from kefu.routing.roster import on_shift
from kefu.store.db import session_scope
from kefu.store.desk.audit import write_audit
from kefu.store.desk.base import StoreBase, shifts_of, skills_of
from kefu.store.desk.handoffs import assigned_to, handoff_view, line_order
from kefu.store.desk.views import Outcome
from kefu.store.models import Agent, Handoff, HandoffMessage


@dataclass(frozen=True)
class Candidate:
    """A present agent, as automatic assignment weighs them."""

    agent_id: int
    open_chats: int
    cap: int  # the agent's max_concurrent
    last_assigned_at: Optional[datetime]  # naive UTC, as stored
    skills: FrozenSet[str] = frozenset()  # none: serves every group

    @property
    def has_room(self) -> bool:
        return self.open_chats < self.cap

    def serves(self, groups: FrozenSet[str]) -> bool:
        return not self.skills or not groups or bool(self.skills & groups)

    def rank(self, groups: FrozenSet[str] = frozenset()) -> Tuple[int, int, datetime, int]:
        """Specialists of the group first, then fewest open chats, then
        least recently assigned."""
        generalist = 0 if self.skills & groups else 1
        return generalist, self.open_chats, self.last_assigned_at or datetime.min, self.agent_id


def served_by(handoff: Handoff) -> FrozenSet[str]:
    """The groups whose agents may take a handoff: its group and the one it
    overflowed from (none recorded: anyone)."""
    return frozenset(g for g in (handoff.skill_group, handoff.overflowed_from) if g)


def _take(s: Session, handoff_id: int, agent_id: int, now: datetime, cap: Optional[int] = None) -> bool:
    """Assign a handoff that is still waiting (a conditional update: of two
    takers, one wins) and note when the agent last got one. With ``cap``,
    only while the agent holds fewer chats, counted in the same statement:
    SQLite has no row locks, and two assignment runs that both read "room
    for one" must not both fill it."""
    conditions = [Handoff.id == handoff_id, Handoff.status == "waiting"]
    if cap is not None:
        held = aliased(Handoff)
        conditions.append(select(func.count()).select_from(held).where(
            held.status == "assigned", held.agent_id == agent_id).scalar_subquery() < cap)
    taken = s.execute(
        update(Handoff).where(*conditions)
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
                select(Handoff).where(Handoff.status == "waiting").order_by(*line_order())
            ).scalars().all()
            if not waiting:
                return made
            candidates = self._present_agents(s, now)
            for handoff in waiting:
                if not any(c.has_room for c in candidates):
                    break
                groups = served_by(handoff)
                eligible = [c for c in candidates if c.has_room and c.serves(groups)]
                if not eligible:
                    continue  # its group is full: later chats of other groups may still be served
                eligible.sort(key=lambda c: c.rank(groups))
                agent_id, handoff_id = eligible[0].agent_id, handoff.id
                if not _take(s, handoff_id, agent_id, now, cap=eligible[0].cap):
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
        """The present agents on shift, each with their open chats, cap,
        last assignment and skills (their rows locked for the rest of the
        transaction)."""
        open_ = dict(s.execute(select(Handoff.agent_id, func.count()).where(Handoff.status == "assigned")
                               .group_by(Handoff.agent_id)).all())
        rows = s.execute(
            select(Agent).where(Agent.online.is_(True), Agent.last_seen_at >= to_db(now - self.presence))
            .order_by(Agent.id).with_for_update()
        ).scalars().all()
        ids = [a.id for a in rows]
        skills, shifts, zone = skills_of(s, ids), shifts_of(s, ids), self.zone
        return [Candidate(a.id, open_.get(a.id, 0), a.max_concurrent, a.last_assigned_at, skills.get(a.id, frozenset()))
                for a in rows if on_shift(shifts.get(a.id, []), now, zone)]

"""The desk's live updates (what changed since the last look) and its
figures: queue lengths, waits, first responses and each agent's load."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Dict, List, Optional, Tuple

from sqlalchemy import func, select

from kefu.core.clock import to_db, utcnow
from kefu.store.db import session_scope
from kefu.store.desk.base import StoreBase
from kefu.store.desk.handoffs import OPEN
from kefu.store.desk.views import AgentLoad, Metrics
from kefu.store.models import Agent, Handoff, HandoffMessage


def _avg(xs: List[float]) -> Optional[float]:
    return round(sum(xs) / len(xs), 1) if xs else None


class DeskMetrics(StoreBase):
    def snapshot(self) -> Tuple[Dict[int, Tuple[str, Optional[int]]], int]:
        """Open handoffs {id: (status, agent id)} and the newest message id:
        the desk compares two of them to push changes."""
        with session_scope(self.engine) as s:
            rows = s.execute(
                select(Handoff.id, Handoff.status, Handoff.agent_id).where(Handoff.status.in_(OPEN))
            ).all()
            newest = s.execute(select(func.max(HandoffMessage.id))).scalar_one() or 0
            return {r[0]: (r[1], r[2]) for r in rows}, newest

    def messages_after(self, message_id: int) -> List[Tuple[int, int, str, Optional[int]]]:
        """(message id, handoff id, sender, the handoff's agent) newer than ``message_id``."""
        with session_scope(self.engine) as s:
            rows = s.execute(
                select(HandoffMessage.id, HandoffMessage.handoff_id, HandoffMessage.sender, Handoff.agent_id)
                .join(Handoff, Handoff.id == HandoffMessage.handoff_id)
                .where(HandoffMessage.id > message_id).order_by(HandoffMessage.id)
            ).all()
            return [tuple(r) for r in rows]

    def metrics(self, since: Optional[datetime] = None, now: Optional[datetime] = None) -> Metrics:
        """The desk's figures now, and over the window since ``since``
        (default: the last 24 hours)."""
        now = now or utcnow()
        since = since or now - timedelta(hours=24)
        n, t0 = to_db(now), to_db(since)
        with session_scope(self.engine) as s:
            waiting_rows = s.execute(select(Handoff.created_at).where(Handoff.status == "waiting")).scalars().all()
            ages = [(n - c).total_seconds() for c in waiting_rows]
            assigned = s.execute(select(func.count()).where(Handoff.status == "assigned")).scalar_one()
            waits = [
                (a - c).total_seconds()
                for c, a in s.execute(select(Handoff.created_at, Handoff.assigned_at)
                                      .where(Handoff.assigned_at.is_not(None), Handoff.assigned_at >= t0)).all()
            ]
            firsts = [
                (f - c).total_seconds()
                for c, f in s.execute(select(Handoff.created_at, Handoff.first_response_at)
                                      .where(Handoff.first_response_at.is_not(None),
                                             Handoff.first_response_at >= t0)).all()
            ]
            handled = dict(s.execute(
                select(Handoff.agent_id, func.count()).where(Handoff.status == "closed", Handoff.closed_at >= t0,
                                                             Handoff.agent_id.is_not(None))
                .group_by(Handoff.agent_id)).all())
            open_ = dict(s.execute(select(Handoff.agent_id, func.count()).where(Handoff.status == "assigned")
                                   .group_by(Handoff.agent_id)).all())
            per_agent = [
                AgentLoad(a.id, a.display_name, open_.get(a.id, 0), handled.get(a.id, 0), self._present(a, now))
                for a in s.execute(select(Agent).order_by(Agent.id)).scalars()
            ]
        return Metrics(
            since=since, waiting=len(ages), assigned=assigned,
            longest_wait_seconds=round(max(ages), 1) if ages else None,
            current_avg_wait_seconds=_avg(ages), avg_wait_seconds=_avg(waits),
            avg_first_response_seconds=_avg(firsts), handled_total=sum(handled.values()), per_agent=per_agent,
        )

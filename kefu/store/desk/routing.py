"""Routing in the store (客服轮岗): agents' skill groups and shifts, the
group and priority a handoff is queued with, overflow to a backup group,
and the supervisors' alerts.

The rules are kefu/routing/'s; this module applies them in one transaction
per call. Every decision is kept with the handoff as a note (its
``routing`` column), so the desk's summary says why a chat is where it is.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from kefu.core.clock import from_db, to_db, utcnow
from kefu.routing.policy import Route
from kefu.routing.roster import Shift, on_shift
from kefu.store.db import session_scope
from kefu.store.desk.audit import write_audit
from kefu.store.desk.base import StoreBase, shifts_of, skills_of
from kefu.store.desk.handoffs import routing_notes
from kefu.store.desk.views import AlertView, GroupLine
from kefu.store.models import Agent, AgentShift, AgentSkill, Customer, DeskAlert, Handoff

MAX_ALERTS = 50


class Routing(StoreBase):
    def route(self, s: Session, summary: Any, reason: str, customer_id: Optional[int]) -> Route:
        """The route of a new handoff: its requests from the summary, the
        tier from the shop's customer row (never from what the shopper said)."""
        intents = summary.get("intents") if isinstance(summary, dict) else None
        risk = summary.get("risk") if isinstance(summary, dict) else None
        risks = [str(r) for r in (risk.get("reasons") or ())] if isinstance(risk, dict) else []
        complaint = summary.get("complaint") if isinstance(summary, dict) else None
        category = str(complaint.get("category") or "") if isinstance(complaint, dict) else None
        tier = s.execute(select(Customer.tier).where(Customer.id == customer_id)).scalar_one_or_none() \
            if customer_id is not None else None
        return self.routing.route([str(i) for i in intents or ()], reason or "", tier, risks, category)

    def set_skills(self, agent_id: int, skills: Sequence[str], actor: Optional[int] = None) -> List[str]:
        """Replace an agent's skill groups (none: every group); a group
        routing.yml does not know is refused."""
        wanted = sorted({s.strip().lower() for s in skills if s and s.strip()})
        unknown = [g for g in wanted if g not in self.routing.groups]
        if unknown:
            raise ValueError(f"unknown skill groups {unknown}; routing.yml has {sorted(self.routing.groups)}")
        with session_scope(self.engine) as s:
            if s.get(Agent, agent_id) is None:
                raise KeyError(agent_id)
            s.execute(delete(AgentSkill).where(AgentSkill.agent_id == agent_id))
            s.add_all([AgentSkill(agent_id=agent_id, skill=g) for g in wanted])
            write_audit(s, actor, "agent.skills", f"agent:{agent_id}", ",".join(wanted) or "all")
        return wanted

    def set_shifts(self, agent_id: int, shifts: Sequence[Shift], actor: Optional[int] = None) -> None:
        """Replace an agent's roster (none: not on the roster, works whenever online)."""
        with session_scope(self.engine) as s:
            if s.get(Agent, agent_id) is None:
                raise KeyError(agent_id)
            s.execute(delete(AgentShift).where(AgentShift.agent_id == agent_id))
            s.add_all([AgentShift(agent_id=agent_id, weekday=x.weekday, start_minute=x.start.hour * 60 + x.start.minute,
                                  end_minute=x.end.hour * 60 + x.end.minute) for x in shifts])
            write_audit(s, actor, "agent.shifts", f"agent:{agent_id}", f"{len(shifts)} shifts")

    def overflow_waiting(self, now: Optional[datetime] = None) -> List[AlertView]:
        """Move each chat that has waited in its group longer than the
        policy allows to the group's backup (once), note why, and alert the
        supervisors. Each move is a conditional update: two desk processes
        never move or alert twice."""
        now = now or utcnow()
        policy = self.routing
        alerts: List[AlertView] = []
        with session_scope(self.engine) as s:
            rows = s.execute(
                select(Handoff).where(Handoff.status == "waiting", Handoff.overflowed_from.is_(None),
                                      Handoff.skill_group.is_not(None))
                .order_by(Handoff.group_since, Handoff.id)
            ).scalars().all()
            for handoff in rows:
                home = str(handoff.skill_group)
                waited = now - from_db(handoff.group_since or handoff.created_at)
                backup = policy.backup_of(home)
                if waited < policy.overflow_after or backup is None:
                    continue
                note = policy.overflow_note(home, backup, waited)
                moved = s.execute(
                    update(Handoff).where(Handoff.id == handoff.id, Handoff.status == "waiting",
                                          Handoff.overflowed_from.is_(None))
                    .values(skill_group=backup, overflowed_from=home, group_since=to_db(now),
                            routing=json.dumps([*routing_notes(handoff), {**note, "at": now.isoformat()}],
                                               ensure_ascii=False))
                    .execution_options(synchronize_session=False)
                ).rowcount
                if not moved:
                    continue
                alert = DeskAlert(kind="overflow", handoff_id=handoff.id, text=note["text"], created_at=to_db(now))
                s.add(alert)
                write_audit(s, None, "handoff.overflow", f"handoff:{handoff.id}", f"{home}->{backup}")
                s.flush()
                alerts.append(_alert_view(alert))
        return alerts

    def open_alerts(self) -> List[AlertView]:
        """The alerts no supervisor has acknowledged yet, newest first."""
        with session_scope(self.engine) as s:
            rows = s.execute(select(DeskAlert).where(DeskAlert.acknowledged_at.is_(None))
                             .order_by(DeskAlert.id.desc()).limit(MAX_ALERTS)).scalars()
            return [_alert_view(a) for a in rows]

    def acknowledge_alert(self, alert_id: int, agent_id: int) -> bool:
        with session_scope(self.engine) as s:
            done = s.execute(update(DeskAlert).where(DeskAlert.id == alert_id, DeskAlert.acknowledged_at.is_(None))
                             .values(acknowledged_at=to_db(utcnow()), acknowledged_by=agent_id)
                             .execution_options(synchronize_session=False)).rowcount
            if done:
                write_audit(s, agent_id, "alert.acknowledge", f"alert:{alert_id}", None)
            return bool(done)

    def group_lines(self, now: Optional[datetime] = None) -> List[GroupLine]:
        """Each group's line: how many wait, the oldest wait, who serves it now."""
        now = now or utcnow()
        policy = self.routing
        with session_scope(self.engine) as s:
            waits: Dict[str, List[datetime]] = {}
            for group, since, created in s.execute(select(Handoff.skill_group, Handoff.group_since, Handoff.created_at)
                                                   .where(Handoff.status == "waiting")).all():
                waits.setdefault(group or "", []).append(from_db(since or created))
            agents = [a for a in s.execute(select(Agent)).scalars().all() if self._present(a, now)]
            ids = [a.id for a in agents]
            skills, shifts = skills_of(s, ids), shifts_of(s, ids)
            working = [skills.get(a.id, frozenset()) for a in agents if on_shift(shifts.get(a.id, []), now, self.zone)]
            lines = []
            for code, group in policy.groups.items():
                times = waits.get(code, [])
                oldest = int((now - min(times)).total_seconds()) if times else None
                lines.append(GroupLine(code, group.label, len(times), oldest,
                                       sum(1 for k in working if not k or code in k), policy.backup_of(code)))
            return lines

    def customer_tier(self, customer_id: int) -> Optional[str]:
        with session_scope(self.engine) as s:
            return s.execute(select(Customer.tier).where(Customer.id == customer_id)).scalar_one_or_none()

    def set_customer_tier(self, customer_id: int, tier: str) -> None:
        if tier not in self.routing.tiers:
            raise ValueError(f"a tier is one of {sorted(self.routing.tiers)}")
        with session_scope(self.engine) as s:
            s.execute(update(Customer).where(Customer.id == customer_id).values(tier=tier))


def _alert_view(a: DeskAlert) -> AlertView:
    return AlertView(a.id, a.kind, a.handoff_id, a.text, from_db(a.created_at), from_db(a.acknowledged_at))

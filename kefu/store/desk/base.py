"""What every area of the desk store shares: the engine, the presence
window (an agent is *present*, so eligible for assignment, when online and
seen within it), the routing policy and roster zone, and the view of an
agent."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Dict, FrozenSet, List, Optional
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from kefu.core import hours
from kefu.core.clock import from_db, to_db, utcnow
from kefu.routing import policy as routing_policy
from kefu.routing.policy import RoutingPolicy
from kefu.routing.roster import Shift, describe, on_shift
from kefu.store.desk.views import AgentView
from kefu.store.models import Agent, AgentShift, AgentSkill, Handoff

DEFAULT_PRESENCE_SECONDS = 90


class StoreBase:
    def __init__(self, engine: Engine, presence_seconds: int = DEFAULT_PRESENCE_SECONDS,
                 routing: Optional[RoutingPolicy] = None, zone: Optional[ZoneInfo] = None) -> None:
        self.engine = engine
        self.presence = timedelta(seconds=presence_seconds)
        self._routing = routing
        self._zone = zone

    @property
    def routing(self) -> RoutingPolicy:
        """The given policy, else routing.yml's (read again when edited)."""
        return self._routing or routing_policy.load()

    @property
    def zone(self) -> ZoneInfo:
        """Where shifts are local: the shop's zone (service_hours.yml)."""
        return self._zone or hours.load().zone

    def _present(self, agent: Agent, now: datetime) -> bool:
        return (bool(agent.online) and agent.last_seen_at is not None
                and agent.last_seen_at >= to_db(now - self.presence))

    def _agent_view(self, s: Session, agent: Agent) -> AgentView:
        open_chats = s.execute(
            select(func.count()).where(Handoff.status == "assigned", Handoff.agent_id == agent.id)
        ).scalar_one()
        now = utcnow()
        shifts = shifts_of(s, [agent.id]).get(agent.id, [])
        return AgentView(agent.id, agent.username, agent.display_name, agent.max_concurrent, bool(agent.online),
                         self._present(agent, now), open_chats, from_db(agent.last_seen_at),
                         skills=tuple(sorted(skills_of(s, [agent.id]).get(agent.id, ()))),
                         shifts=describe(shifts), on_shift=on_shift(shifts, now, self.zone))


def skills_of(s: Session, agent_ids: List[int]) -> Dict[int, FrozenSet[str]]:
    rows = s.execute(select(AgentSkill.agent_id, AgentSkill.skill).where(AgentSkill.agent_id.in_(agent_ids))).all()
    found: Dict[int, set] = {}
    for agent_id, skill in rows:
        found.setdefault(agent_id, set()).add(skill)
    return {agent_id: frozenset(skills) for agent_id, skills in found.items()}


def shifts_of(s: Session, agent_ids: List[int]) -> Dict[int, List[Shift]]:
    rows = s.execute(select(AgentShift).where(AgentShift.agent_id.in_(agent_ids))).scalars()
    found: Dict[int, List[Shift]] = {}
    for row in rows:
        found.setdefault(row.agent_id, []).append(
            Shift(row.weekday, _time(row.start_minute), _time(row.end_minute)))
    return found


def _time(minute: int) -> time:
    minute = max(0, min(int(minute), 1439))
    return time(minute // 60, minute % 60)

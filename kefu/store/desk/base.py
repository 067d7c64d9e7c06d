"""What every area of the desk store shares: the engine, the presence
window (an agent is *present*, so eligible for assignment, when online and
seen within it) and the view of an agent."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from kefu.core.clock import from_db, to_db, utcnow
from kefu.store.desk.views import AgentView
from kefu.store.models import Agent, Handoff

DEFAULT_PRESENCE_SECONDS = 90


class StoreBase:
    def __init__(self, engine: Engine, presence_seconds: int = DEFAULT_PRESENCE_SECONDS) -> None:
        self.engine = engine
        self.presence = timedelta(seconds=presence_seconds)

    def _present(self, agent: Agent, now: datetime) -> bool:
        return (bool(agent.online) and agent.last_seen_at is not None
                and agent.last_seen_at >= to_db(now - self.presence))

    def _agent_view(self, s: Session, agent: Agent) -> AgentView:
        open_chats = s.execute(
            select(func.count()).where(Handoff.status == "assigned", Handoff.agent_id == agent.id)
        ).scalar_one()
        return AgentView(agent.id, agent.username, agent.display_name, agent.max_concurrent, bool(agent.online),
                         self._present(agent, utcnow()), open_chats, from_db(agent.last_seen_at))

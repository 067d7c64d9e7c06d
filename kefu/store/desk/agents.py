"""The desk's agents: adding them, their views, and their presence
(online or paused, and when they were last seen)."""
from __future__ import annotations

from typing import List, Optional

from sqlalchemy import select, update

from kefu.core.clock import to_db, utcnow
from kefu.store.db import session_scope
from kefu.store.desk.assignment import Assignment
from kefu.store.desk.passwords import hash_password
from kefu.store.desk.views import AgentView
from kefu.store.models import Agent


class Agents(Assignment):
    def add_agent(self, username: str, display_name: str, password: str, max_concurrent: int = 3) -> int:
        username = username.strip().lower()
        if not username or len(username) > 64:
            raise ValueError("a username is 1 to 64 characters")
        if max_concurrent < 0:
            raise ValueError("max_concurrent must be >= 0")
        with session_scope(self.engine) as s:
            agent = Agent(username=username, display_name=display_name.strip()[:64] or username,
                          password_hash=hash_password(password), max_concurrent=max_concurrent, online=False,
                          created_at=to_db(utcnow()))
            s.add(agent)
            s.flush()
            return agent.id

    def agent(self, agent_id: int) -> Optional[AgentView]:
        with session_scope(self.engine) as s:
            agent = s.get(Agent, agent_id)
            return self._agent_view(s, agent) if agent is not None else None

    def agents(self) -> List[AgentView]:
        with session_scope(self.engine) as s:
            return [self._agent_view(s, a) for a in s.execute(select(Agent).order_by(Agent.id)).scalars()]

    def set_online(self, agent_id: int, online: bool) -> None:
        """Accepting chats or paused; coming online takes waiting chats."""
        with session_scope(self.engine) as s:
            s.execute(update(Agent).where(Agent.id == agent_id)
                      .values(online=bool(online), last_seen_at=to_db(utcnow())))
        if online:
            self.assign_waiting()

    def touch(self, agent_id: int) -> None:
        with session_scope(self.engine) as s:
            s.execute(update(Agent).where(Agent.id == agent_id).values(last_seen_at=to_db(utcnow())))

"""Logging in and out, the sessions of agents, and password changes.

Failed logins are counted per (name, client address) and per address
(through :class:`kefu.store.limits.Limits`); a lock's wait doubles from
``LOCK_BASE`` with every further failure, up to ``LOCK_MAX``. A session is
stored under the hash of its token, never the token.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Optional, Tuple

from sqlalchemy import delete, func, select, update

from kefu.core import ids
from kefu.core.clock import to_db, utcnow
from kefu.store.db import session_scope
from kefu.store.desk.assignment import Assignment
from kefu.store.desk.audit import AuditLog, write_audit
from kefu.store.desk.passwords import dummy_hash, hash_password, needs_rehash, token_hash, verify_password
from kefu.store.desk.views import AgentView
from kefu.store.limits import Limits, locked_until
from kefu.store.models import Agent, DeskSession

#: failed logins of one name from one address that lock it (for that
#: address only: nobody elsewhere can lock an agent out), with a wait that
#: doubles from LOCK_BASE with every further failure, up to LOCK_MAX
MAX_FAILED_LOGINS = 5
LOCK_WINDOW = timedelta(minutes=15)
LOCK_BASE = timedelta(minutes=1)
LOCK_MAX = timedelta(hours=1)
#: failed logins from one address, whatever the names (password spraying)
MAX_FAILED_LOGINS_PER_ADDRESS = 30


class Sessions(Assignment, AuditLog):
    def login(self, username: str, password: str, session_hours: float, client_address: Optional[str] = None,
              now: Optional[datetime] = None) -> Tuple[Optional[str], Optional[AgentView], str]:
        """(token, agent, outcome): outcome is ok | bad_credentials | locked.

        Failures are counted per (name, client address), known names and
        unknown ones alike, so the answers and the lock say nothing about
        which names exist and nobody elsewhere can lock an agent out; a
        refusal while locked is not counted again (the lock would otherwise
        feed itself). Every attempt is audited; the name itself is not
        written."""
        username = (username or "").strip().lower()[:64]
        now = now or utcnow()
        limits = Limits(self.engine)
        pair = ids.keyed_hash(f"{username}\x00{client_address or ''}", "desk-login")
        address = ids.keyed_hash(client_address or "", "desk-login-address")
        since = now - LOCK_WINDOW
        locked = [
            locked_until(limits.times("desk_login", pair, since), MAX_FAILED_LOGINS, LOCK_BASE, LOCK_MAX),
            locked_until(limits.times("desk_login_address", address, since), MAX_FAILED_LOGINS_PER_ADDRESS,
                         LOCK_BASE, LOCK_MAX),
        ]
        name_key = ids.keyed_hash(username, "desk-name")[:12]
        if any(until is not None and until > now for until in locked):
            self.audit(None, "login_locked", None, f"name {name_key}")
            return None, None, "locked"
        with session_scope(self.engine) as s:
            agent = s.execute(select(Agent).where(Agent.username == username)).scalar_one_or_none()
            valid = verify_password(password, agent.password_hash if agent else dummy_hash()) and agent is not None
            if not valid:
                write_audit(s, agent.id if agent else None, "login_failed", f"agent:{agent.id}" if agent else None,
                            f"name {name_key}")
        if not valid:
            limits.record("desk_login", pair, now)
            limits.record("desk_login_address", address, now)
            return None, None, "bad_credentials"
        with session_scope(self.engine) as s:
            agent = s.get(Agent, agent.id)
            if needs_rehash(agent.password_hash):
                agent.password_hash = hash_password(password)
            token = secrets.token_urlsafe(32)
            s.add(DeskSession(token_hash=token_hash(token), agent_id=agent.id, created_at=to_db(now),
                              expires_at=to_db(now + timedelta(hours=session_hours))))
            agent.online, agent.last_seen_at = True, to_db(now)
            # drop this agent's expired sessions while here
            s.execute(delete(DeskSession).where(DeskSession.agent_id == agent.id,
                                                DeskSession.expires_at < to_db(now)))
            write_audit(s, agent.id, "login", f"agent:{agent.id}", None)
            s.flush()
            view = self._agent_view(s, agent)
        limits.forget("desk_login", pair)
        self.assign_waiting()
        return token, view, "ok"

    def session_agent(self, token: Optional[str]) -> Optional[AgentView]:
        """The agent of a valid, unexpired session (and note they are here)."""
        if not token:
            return None
        now = utcnow()
        with session_scope(self.engine) as s:
            row = s.get(DeskSession, token_hash(token))
            if row is None or row.expires_at <= to_db(now):
                return None
            agent = s.get(Agent, row.agent_id)
            if agent.last_seen_at is None or agent.last_seen_at < to_db(now - timedelta(seconds=10)):
                agent.last_seen_at = to_db(now)
            return self._agent_view(s, agent)

    def logout(self, token: str) -> None:
        with session_scope(self.engine) as s:
            row = s.get(DeskSession, token_hash(token))
            if row is None:
                return
            agent_id = row.agent_id
            s.delete(row)
            others = s.execute(select(func.count()).where(DeskSession.agent_id == agent_id,
                                                          DeskSession.expires_at > to_db(utcnow()))).scalar_one()
            if not others:
                s.execute(update(Agent).where(Agent.id == agent_id).values(online=False))
            write_audit(s, agent_id, "logout", f"agent:{agent_id}", None)

    # ---- passwords

    def set_password(self, username: str, password: str) -> None:
        """A new password (the operator's ``make agent``); every session of
        the agent ends, so a stolen cookie dies with the old password."""
        with session_scope(self.engine) as s:
            agent = s.execute(select(Agent).where(Agent.username == username.strip().lower())).scalar_one()
            agent.password_hash = hash_password(password)
            s.execute(delete(DeskSession).where(DeskSession.agent_id == agent.id))
            write_audit(s, agent.id, "password_set", f"agent:{agent.id}", "all sessions ended")

    def change_password(self, agent_id: int, old: str, new: str, current_token: Optional[str]) -> bool:
        """The agent's own change (needs the old password); the agent's
        other sessions end, the one that asked stays."""
        if not new or len(new) < 8:
            raise ValueError("a password has at least 8 characters")
        with session_scope(self.engine) as s:
            agent = s.get(Agent, agent_id)
            if agent is None or not verify_password(old, agent.password_hash):
                write_audit(s, agent_id, "password_change_failed", f"agent:{agent_id}", None)
                return False
            agent.password_hash = hash_password(new)
            keep = token_hash(current_token) if current_token else ""
            s.execute(delete(DeskSession).where(DeskSession.agent_id == agent_id, DeskSession.token_hash != keep))
            write_audit(s, agent_id, "password_changed", f"agent:{agent_id}", "other sessions ended")
            return True

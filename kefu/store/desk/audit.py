"""The desk's audit log: who did what to which handoff or agent."""
from __future__ import annotations

from typing import List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.clock import from_db, to_db, utcnow
from kefu.store.db import session_scope
from kefu.store.desk.base import StoreBase
from kefu.store.desk.views import AuditView
from kefu.store.models import AuditEntry


def write_audit(s: Session, agent_id: Optional[int], action: str, target: Optional[str],
                detail: Optional[str]) -> None:
    """One entry, in the caller's transaction."""
    s.add(AuditEntry(agent_id=agent_id, action=action[:32], target=(target or None) and target[:64],
                     detail=detail, created_at=to_db(utcnow())))


class AuditLog(StoreBase):
    def audit(self, agent_id: Optional[int], action: str, target: Optional[str] = None,
              detail: Optional[str] = None) -> None:
        with session_scope(self.engine) as s:
            write_audit(s, agent_id, action, target, detail)

    def audit_entries(self, limit: int = 200) -> List[AuditView]:
        with session_scope(self.engine) as s:
            rows = s.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).scalars()
            return [AuditView(a.id, a.agent_id, a.action, a.target, a.detail, from_db(a.created_at)) for a in rows]

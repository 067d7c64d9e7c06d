"""Risk control in the desk store (风控): what a handed-off conversation's
messages carried (kinds only, never the words), escalation of a chat that
carries a signal, alerts for the supervisors, and blocking a conversation
that keeps abusing agents.

An escalation happens once per handoff (a conditional update on
``escalated_at``): the chat gains routing.yml's escalation priority, moves
to the escalation group while it still waits (an agent who has it keeps
it), and the decision is noted in its summary. Three abusive messages from
one conversation within a day alert the supervisors once; a supervisor may
then block it (audited), and the connectors answer its messages with a
polite notice (channels/edge.py).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, List, Mapping, Optional

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from kefu.core.clock import to_db, utcnow
from kefu.risk.words import Assessment
from kefu.store.db import session_scope
from kefu.store.desk.audit import write_audit
from kefu.store.desk.base import StoreBase
from kefu.store.desk.handoffs import handoff_view, routing_notes
from kefu.store.desk.views import Outcome
from kefu.store.models import BlockedConversation, DeskAlert, Handoff, RiskEvent

ABUSE_ALERT_AFTER = 3
ABUSE_WINDOW = timedelta(days=1)


class RiskControl(StoreBase):
    def record_risk(self, s: Session, handoff: Handoff, assessment: Assessment, now: datetime) -> None:
        """Keep what a message of this handoff's conversation carried; escalate
        the handoff on a signal, and alert on repeated abuse (the caller's
        transaction)."""
        kinds = ["abuse"] * min(assessment.abuse, 1) + [signal.kind for signal in assessment.signals]
        s.add_all([RiskEvent(conversation_id=handoff.conversation_id, handoff_id=handoff.id, kind=kind,
                             created_at=to_db(now)) for kind in kinds])
        if assessment.abuse:
            s.flush()
            count = s.execute(select(func.count()).where(
                RiskEvent.conversation_id == handoff.conversation_id, RiskEvent.kind == "abuse",
                RiskEvent.created_at >= to_db(now - ABUSE_WINDOW))).scalar_one()
            if count == ABUSE_ALERT_AFTER:
                s.add(DeskAlert(kind="abuse", handoff_id=handoff.id, created_at=to_db(now),
                                text=f"重复辱骂：24 小时内 {count} 次，可封禁 / repeated abuse: {count} times in 24 h, "
                                     f"may be blocked"))
        if assessment.signals:
            self._escalate(s, handoff, [f"{x.name_zh} {x.name_en}" for x in assessment.signals], now)

    def record_queued_risk(self, s: Session, handoff: Handoff, risk: Mapping[str, Any], now: datetime) -> None:
        """What the conversation carried before the handoff (the action's
        assessment in the summary); a handoff routed for it is alerted."""
        kinds = ["abuse"] * min(int(risk.get("abuse") or 0), 1) + [str(k) for k in risk.get("signals") or ()]
        s.add_all([RiskEvent(conversation_id=handoff.conversation_id, handoff_id=handoff.id, kind=kind[:16],
                             created_at=to_db(now)) for kind in kinds])
        if handoff.escalated_at is not None:
            note = routing_notes(handoff)[-1]
            s.add(DeskAlert(kind="escalation", handoff_id=handoff.id, text=note["text"], created_at=to_db(now)))
            write_audit(s, None, "handoff.escalate", f"handoff:{handoff.id}", ",".join(kinds)[:200])

    def _escalate(self, s: Session, handoff: Handoff, reasons: List[str], now: datetime) -> None:
        policy = self.routing
        note = {**policy.escalation_note(reasons), "at": now.isoformat()}
        values = dict(escalated_at=to_db(now), priority=int(handoff.priority or 0) + policy.escalation_priority,
                      routing=json.dumps([*routing_notes(handoff), note], ensure_ascii=False))
        if handoff.status == "waiting":
            values.update(skill_group=policy.escalation_group, group_since=to_db(now))
        raised = s.execute(update(Handoff).where(Handoff.id == handoff.id, Handoff.escalated_at.is_(None))
                           .values(**values).execution_options(synchronize_session=False)).rowcount
        if raised:
            s.add(DeskAlert(kind="escalation", handoff_id=handoff.id, text=note["text"], created_at=to_db(now)))
            write_audit(s, None, "handoff.escalate", f"handoff:{handoff.id}", ",".join(reasons)[:200])

    def abuse_count(self, conversation_id: str, now: Optional[datetime] = None) -> int:
        now = now or utcnow()
        with session_scope(self.engine) as s:
            return s.execute(select(func.count()).where(
                RiskEvent.conversation_id == conversation_id, RiskEvent.kind == "abuse",
                RiskEvent.created_at >= to_db(now - ABUSE_WINDOW))).scalar_one()

    def block(self, handoff_id: int, agent_id: int, reason: str) -> Outcome:
        """A supervisor blocks the handoff's conversation and closes the
        handoff (the caller checks that ``agent_id`` is a supervisor)."""
        reason = " ".join((reason or "").split())[:200]
        if not reason:
            return Outcome(False, "empty")
        now = utcnow()
        with session_scope(self.engine) as s:
            handoff = s.get(Handoff, handoff_id)
            if handoff is None:
                return Outcome(False, "not_found")
            if s.get(BlockedConversation, handoff.conversation_id) is None:
                s.add(BlockedConversation(conversation_id=handoff.conversation_id, reason=reason,
                                          blocked_by=agent_id, created_at=to_db(now)))
            if handoff.status in ("waiting", "assigned"):
                handoff.status, handoff.closed_at = "closed", to_db(now)
            write_audit(s, agent_id, "block", f"handoff:{handoff_id}", reason)
            s.flush()
            return Outcome(True, handoff=handoff_view(s, handoff))

    def unblock(self, handoff_id: int, agent_id: int) -> Outcome:
        with session_scope(self.engine) as s:
            handoff = s.get(Handoff, handoff_id)
            if handoff is None:
                return Outcome(False, "not_found")
            done = s.execute(delete(BlockedConversation)
                             .where(BlockedConversation.conversation_id == handoff.conversation_id)).rowcount
            if not done:
                return Outcome(False, "not_blocked")
            write_audit(s, agent_id, "unblock", f"handoff:{handoff_id}", None)
            return Outcome(True, handoff=handoff_view(s, handoff))

    def is_blocked(self, conversation_id: str) -> bool:
        with session_scope(self.engine) as s:
            return s.get(BlockedConversation, conversation_id) is not None


"""What agents did with the suggested replies (kefu/desk/assist.py): one row
per reply to a message that had suggestions, and the acceptance per intent
the dashboard shows."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Dict, List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.clock import to_db, utcnow
from kefu.store.db import session_scope
from kefu.store.desk.base import StoreBase
from kefu.store.models import AssistOutcome

OUTCOMES = ("used", "edited", "ignored")
SUGGESTION_KINDS = ("answer", "order", "canned")


class Assist(StoreBase):
    def record_assist(self, handoff_id: int, agent_id: int, intent: Optional[str], kind: Optional[str],
                      outcome: str, now: Optional[datetime] = None) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with session_scope(self.engine) as s:
            s.add(AssistOutcome(handoff_id=handoff_id, agent_id=agent_id, intent=(intent or None) and intent[:191],
                                kind=kind if kind in SUGGESTION_KINDS else None, outcome=outcome,
                                created_at=to_db(now or utcnow())))

    def assist_rates(self, start: datetime, end: datetime) -> List[Dict[str, Any]]:
        with session_scope(self.engine) as s:
            return acceptance(s, start, end)


def acceptance(s: Session, start: datetime, end: datetime) -> List[Dict[str, Any]]:
    """Per intent: replies to messages that had suggestions, how many sent a
    suggestion as it was or edited it, how many ignored them, and the
    acceptance rate ((used + edited) / replies); most replies first."""
    counts: Dict[str, Dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    for intent, outcome in s.execute(select(AssistOutcome.intent, AssistOutcome.outcome)
                                     .where(AssistOutcome.created_at >= to_db(start),
                                            AssistOutcome.created_at < to_db(end))):
        counts[intent or "unknown"][outcome] += 1
    rows = []
    for intent, c in counts.items():
        replies = sum(c.values())
        rows.append({"intent": intent, "replies": replies, **c,
                     "acceptance": round((c["used"] + c["edited"]) / replies, 4) if replies else None})
    return sorted(rows, key=lambda r: (-r["replies"], r["intent"]))

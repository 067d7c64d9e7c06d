"""What is beside the conversation: the shopper's tickets, and the status
the agent holding the chat gives them (the shopper's service record shows it)."""
from __future__ import annotations

from typing import List, Optional

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from kefu.core.clock import from_db, to_db, utcnow
from kefu.core.ids import conversation_key
from kefu.store.db import session_scope
from kefu.store.desk.audit import write_audit
from kefu.store.desk.base import StoreBase
from kefu.store.desk.handoffs import assigned_to, handoff_view
from kefu.store.desk.views import Outcome, TicketRow
from kefu.store.models import TICKET_STATUSES, Handoff, Ticket


class Tickets(StoreBase):
    def tickets_for(self, conversation_id: str, customer_id: Optional[int], limit: int = 10) -> List[TicketRow]:
        """The newest tickets of the conversation, or of the customer when
        the platform vouched for one."""
        key = conversation_key(conversation_id)
        with session_scope(self.engine) as s:
            rows = s.execute(select(Ticket).where(_of_chat(key, customer_id)).order_by(Ticket.number.desc())
                             .limit(limit)).scalars()
            return [
                TicketRow(id=t.id, category=t.category, priority=t.priority, status=t.status, summary=t.summary,
                          order_id=t.order_id, created_at=from_db(t.created_at), sla_due_at=from_db(t.sla_due_at))
                for t in rows
            ]

    def set_ticket_status(self, handoff_id: int, agent_id: int, ticket_id: str, status: str) -> Outcome:
        """The agent holding the chat moves one of its tickets on: only a
        ticket the chat's panel shows (of its conversation or vouched
        customer), only to a known status; audited."""
        if status not in TICKET_STATUSES:
            return Outcome(False, "bad_status")
        with session_scope(self.engine) as s:
            handoff = assigned_to(s, handoff_id, agent_id)
            if isinstance(handoff, Outcome):
                return handoff
            ticket = _ticket_of(s, handoff, ticket_id)
            if ticket is None:
                return Outcome(False, "not_found")
            if ticket.status != status:
                write_audit(s, agent_id, "ticket_status", f"ticket:{ticket.id}", f"{ticket.status} -> {status}")
                ticket.status = status
                ticket.resolved_at = to_db(utcnow()) if status in ("resolved", "closed") else None
            s.flush()
            return Outcome(True, handoff=handoff_view(s, handoff))


def _of_chat(key: str, customer_id: Optional[int]) -> ColumnElement[bool]:
    where = Ticket.conversation_key == key
    return or_(where, Ticket.customer_id == customer_id) if customer_id is not None else where


def _ticket_of(s: Session, handoff: Handoff, ticket_id: str) -> Optional[Ticket]:
    key = conversation_key(handoff.conversation_id)
    return s.execute(select(Ticket).where(Ticket.id == str(ticket_id)[:10],
                                          _of_chat(key, handoff.customer_id))).scalar_one_or_none()

"""What is beside the conversation: the shopper's tickets."""
from __future__ import annotations

from typing import List, Optional

from sqlalchemy import or_, select

from kefu.core.clock import from_db
from kefu.core.ids import conversation_key
from kefu.store.db import session_scope
from kefu.store.desk.base import StoreBase
from kefu.store.desk.views import TicketRow
from kefu.store.models import Ticket


class Tickets(StoreBase):
    def tickets_for(self, conversation_id: str, customer_id: Optional[int], limit: int = 10) -> List[TicketRow]:
        """The newest tickets of the conversation, or of the customer when
        the platform vouched for one."""
        key = conversation_key(conversation_id)
        with session_scope(self.engine) as s:
            where = Ticket.conversation_key == key
            if customer_id is not None:
                where = or_(where, Ticket.customer_id == customer_id)
            rows = s.execute(select(Ticket).where(where).order_by(Ticket.number.desc()).limit(limit)).scalars()
            return [
                TicketRow(id=t.id, category=t.category, priority=t.priority, status=t.status, summary=t.summary,
                          order_id=t.order_id, created_at=from_db(t.created_at), sla_due_at=from_db(t.sla_due_at))
                for t in rows
            ]

"""The service record of a conversation, for callers outside a Rasa turn
(the widget's record route): who may see it, then what it says."""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Mapping

from sqlalchemy.engine import Engine

from kefu.core.config import load_settings
from kefu.core.labels import phrase
from kefu.record.owner import record_owner
from kefu.record.view import panel
from kefu.store.db import make_engine
from kefu.store.record import RecordStore
from kefu.store.shop import ShopStore

#: what the widget says on the panel's button that starts a proof in the chat
PROOF_PAYLOAD = "服务记录"


@lru_cache(maxsize=1)
def _engine() -> Engine:
    return make_engine(load_settings().database_url)


def panel_for(conversation_id: str, slots: Mapping[str, Any], lang: str) -> Dict[str, Any]:
    """The widget's panel for ``conversation_id`` (``slots``: its tracker's):
    the record of the customer it proved to be, else an invitation to prove."""
    engine = _engine()
    customer = record_owner(conversation_id, slots, ShopStore(engine))
    if customer is None:
        return {"proven": False, "title": phrase("utter_record_title", lang),
                "text": phrase("utter_record_need_proof", lang),
                "button": {"title": phrase("utter_part_record_button", lang), "payload": PROOF_PAYLOAD}}
    return panel(RecordStore(engine).record(customer, conversation_id), lang)

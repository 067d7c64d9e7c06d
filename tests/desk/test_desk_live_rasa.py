"""The desk against the real Rasa and action servers: an agent's reply and
hand-back go through Rasa's JWT-protected API to the shopper."""
from __future__ import annotations

import uuid

import httpx
import pytest

from kefu.core.secrets import secret
from kefu.desk.app import create_app
from kefu.desk.settings import DeskSettings
from kefu.store.db import make_engine
from kefu.store.desk import DeskStore
from tests.conftest import Chat
from tests.desk.conftest import PASSWORD, ServedApp

pytestmark = pytest.mark.e2e


def test_an_agent_answers_a_real_conversation(kefu, shop_url):
    store = DeskStore(make_engine(shop_url))
    username = f"agent{uuid.uuid4().hex[:6]}"
    store.add_agent(username, "测试客服", PASSWORD)
    for agent in store.agents():  # agents other tests left online in this shop take no chat of this one
        store.set_online(agent.id, False)
    chat = Chat(kefu.rasa_url, f"desk-{uuid.uuid4().hex[:10]}")
    chat.say("我要转人工")
    handoff = store.active_handoff(chat.conversation_id)
    assert handoff is not None
    desk = ServedApp(create_app(DeskSettings(database_url=shop_url, rasa_url=kefu.rasa_url, poll_seconds=0.2,
                                             rasa_jwt_secret=secret("rasa_jwt_secret"))))
    try:
        with httpx.Client(base_url=desk.url, headers={"X-Requested-With": "XMLHttpRequest"}, timeout=60) as c:
            assert c.post("/api/login", json={"username": username, "password": PASSWORD}).status_code == 200
            if store.handoff(handoff.id).status == "waiting":
                assert c.post(f"/api/handoffs/{handoff.id}/claim").status_code == 200
            reply = c.post(f"/api/handoffs/{handoff.id}/reply", json={"text": "您好，我是人工客服"})
            assert reply.json()["notified"] is True
            transcript = c.get(f"/api/handoffs/{handoff.id}").json()["transcript"]
            assert any(t["sender"] == "agent" and "人工客服" in t["text"] for t in transcript)
            assert c.post(f"/api/handoffs/{handoff.id}/resolve").json()["notified"] is True
    finally:
        desk.stop()

"""Suggested replies (kefu/desk/assist.py) against the real Rasa on the
trained model and the real desk: for a shopper's question during a handoff,
the desk offers the answer the bot would give, the facts of the order the
conversation proved and the closest canned replies, in the shopper's
language; what the agent sends is recorded as used, edited or ignored, and
the dashboard's figures count it per intent."""
from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text

from kefu.core import responses
from kefu.core.secrets import secret
from kefu.desk import assist
from kefu.desk.app import create_app
from kefu.desk.settings import DeskSettings
from kefu.store.db import make_engine
from kefu.store.desk import CannedView, DeskStore
from tests.conftest import Chat
from tests.desk.conftest import PASSWORD, ServedApp

SHIPPED = "2611010000000001"


def _nobody_takes_chats(store: DeskStore) -> None:
    """Agents of earlier tests in this shop are paused: the chat waits for this test's agent."""
    for agent in store.agents():
        store.set_online(agent.id, False)


@pytest.fixture(autouse=True)
def agents_paused_after(request):
    """This module's agents log in (and so take chats) in the shop the live tests share: paused
    again afterwards, so that no later test's chat goes to them."""
    yield
    if "shop_url" in request.fixturenames:
        _nobody_takes_chats(DeskStore(make_engine(request.getfixturevalue("shop_url"))))


def test_the_words_closest_to_the_message_pick_the_canned_replies():
    canned = [CannedView(1, "退款说明 Refund timing", "退款已提交，原路退回，一般1-3个工作日到账。", "The refund ..."),
              CannedView(2, "问候 Greeting", "您好，我是人工客服。", "Hello"),
              CannedView(3, "物流催促 Chase delivery", "我已经联系快递加急处理。", "I've asked the carrier")]
    picked = assist.closest_canned("我的退款什么时候到账", canned, "zh")
    assert [s.id for s in picked][:1] == ["canned:1"] and all(s.kind == "canned" for s in picked)
    assert assist.closest_canned("!!!", canned, "zh") == []
    assert assist.outcome("  好的 亲 ", "好的 亲") == "used"
    assert assist.outcome("好的亲，马上处理", "好的 亲") == "edited"
    assert assist.outcome("我自己写的", None) == "ignored"
    events = [{"event": "user", "text": "七天无理由怎么算"}, {"event": "user", "text": "/send_photo"}]
    assert assist.latest_message(events)["text"] == "七天无理由怎么算"


@pytest.mark.e2e
def test_an_agent_is_offered_the_bots_answer_and_the_proven_order_and_the_outcome_is_counted(kefu, shop_url):
    store = DeskStore(make_engine(shop_url))
    username = f"assist{uuid.uuid4().hex[:6]}"
    store.add_agent(username, "推荐客服", PASSWORD)
    chat = Chat(kefu.rasa_url, f"assist-{uuid.uuid4().hex[:10]}")
    assert "订单号" in "\n".join(chat.say("我的订单到哪了"))
    chat.say(SHIPPED)
    chat.say("5678")  # proved: the desk may tell its facts
    _nobody_takes_chats(store)
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
            chat.say("七天无理由退货是怎么规定的")  # while the agent has the chat: the bot is silent
            found = c.get(f"/api/handoffs/{handoff.id}/suggestions").json()
            assert found["message"] == "七天无理由退货是怎么规定的" and found["language"] == "zh"
            kinds = [s["kind"] for s in found["suggestions"]]
            assert kinds[0] == "answer" and "order" in kinds, found
            best = found["suggestions"][0]
            key = best["id"].split(":", 1)[1]
            assert key.startswith(f"{found['intent']}/") and best["text"] == responses.answer(key, "zh")
            order = next(s for s in found["suggestions"] if s["kind"] == "order")
            assert SHIPPED in order["text"] and "运输中" in order["text"]

            shown = {"intent": found["intent"], "kind": best["kind"], "text": best["text"]}
            for sent, offered in ((best["text"], shown),  # used as it was
                                  (best["text"] + " 还有问题随时找我~", shown),  # edited
                                  ("我帮您看一下，请稍等", {**shown, "kind": None, "text": None})):  # ignored
                reply = c.post(f"/api/handoffs/{handoff.id}/reply", json={"text": sent, "assist": offered})
                assert reply.status_code == 200 and reply.json()["notified"] is True
            assert c.post(f"/api/handoffs/{handoff.id}/reply", json={"text": "没有推荐时"}).status_code == 200
            with make_engine(shop_url).connect() as db:
                rows = db.execute(text("select intent, kind, outcome from assist_outcomes where handoff_id = :h "
                                       "order by id"), {"h": handoff.id}).all()
            intent = found["intent"]
            assert [tuple(r) for r in rows] == [(intent, "answer", "used"), (intent, "answer", "edited"),
                                                (intent, None, "ignored")]
            figures = c.get("/api/analytics/metrics").json()
            row = next(r for r in figures["assist"] if r["intent"] == found["intent"])
            assert row["replies"] >= 3 and row["used"] >= 1 and row["edited"] >= 1 and row["ignored"] >= 1
            transcript = c.get(f"/api/handoffs/{handoff.id}").json()["transcript"]
            assert any(t["sender"] == "agent" and t["text"] == best["text"] for t in transcript)
            assert c.post(f"/api/handoffs/{handoff.id}/resolve").json()["notified"] is True
    finally:
        desk.stop()


@pytest.mark.e2e
def test_suggestions_are_for_the_agent_holding_or_seeing_the_chat_only(kefu, shop_url):
    store = DeskStore(make_engine(shop_url))
    mine, other = f"as{uuid.uuid4().hex[:6]}", f"as{uuid.uuid4().hex[:6]}"
    store.add_agent(mine, "甲", PASSWORD)
    store.add_agent(other, "乙", PASSWORD)
    chat = Chat(kefu.rasa_url, f"assist-{uuid.uuid4().hex[:10]}")
    _nobody_takes_chats(store)
    chat.say("转人工")
    handoff = store.active_handoff(chat.conversation_id)
    desk = ServedApp(create_app(DeskSettings(database_url=shop_url, rasa_url=kefu.rasa_url, poll_seconds=0.2,
                                             rasa_jwt_secret=secret("rasa_jwt_secret"))))
    try:
        clients = [httpx.Client(base_url=desk.url, headers={"X-Requested-With": "XMLHttpRequest"}, timeout=60)
                   for _ in range(3)]
        a, b, anonymous = clients
        for client, name in ((a, mine), (b, other)):
            assert client.post("/api/login", json={"username": name, "password": PASSWORD}).status_code == 200
            client.post("/api/presence", json={"online": False})
        if store.handoff(handoff.id).status == "waiting":
            assert a.post(f"/api/handoffs/{handoff.id}/claim").status_code == 200
        assert anonymous.get(f"/api/handoffs/{handoff.id}/suggestions").status_code == 401
        assert b.get(f"/api/handoffs/{handoff.id}/suggestions").status_code == 403  # another agent's chat
        assert a.get(f"/api/handoffs/{handoff.id}/suggestions").status_code == 200
        assert a.post(f"/api/handoffs/{handoff.id}/resolve").status_code == 200
        for client in clients:
            client.close()
    finally:
        desk.stop()


@pytest.mark.e2e
def test_an_answer_to_what_the_bot_could_not_answer_becomes_a_candidate_faq(kefu, shop_url):
    store = DeskStore(make_engine(shop_url))
    username = f"learn{uuid.uuid4().hex[:6]}"
    store.add_agent(username, "教学客服", PASSWORD)
    chat = Chat(kefu.rasa_url, f"learn-{uuid.uuid4().hex[:10]}")
    _nobody_takes_chats(store)
    chat.say("我要转人工")
    handoff = store.active_handoff(chat.conversation_id)
    desk = ServedApp(create_app(DeskSettings(database_url=shop_url, rasa_url=kefu.rasa_url, poll_seconds=0.2,
                                             rasa_jwt_secret=secret("rasa_jwt_secret"))))
    try:
        with httpx.Client(base_url=desk.url, headers={"X-Requested-With": "XMLHttpRequest"}, timeout=60) as c:
            assert c.post("/api/login", json={"username": username, "password": PASSWORD}).status_code == 200
            if store.handoff(handoff.id).status == "waiting":
                assert c.post(f"/api/handoffs/{handoff.id}/claim").status_code == 200
            c.post(f"/api/handoffs/{handoff.id}/reply", json={"text": "您好，请问有什么可以帮您"})
            chat.say("咕噜咕噜 zzqx 嘟嘟嘟")  # nothing the bot understands
            assert c.post(f"/api/handoffs/{handoff.id}/reply",
                          json={"text": "不好意思没看懂，您是想问寄存吗？电话 13812345678"}).status_code == 200
            with make_engine(shop_url).connect() as db:
                rows = db.execute(text("select question, answer from faq_candidates where handoff_id = :h"),
                                  {"h": handoff.id}).all()
            assert [r[0] for r in rows] == ["咕噜咕噜 zzqx 嘟嘟嘟"]  # not the handoff request, understood fine
            assert "13812345678" not in rows[0][1]
            groups = c.get("/api/analytics/answers").json()["groups"]
            assert any(cand["question"] == "咕噜咕噜 zzqx 嘟嘟嘟" for g in groups for cand in g["candidates"])
            ids = [cand["id"] for g in groups for cand in g["candidates"] if cand["question"] == "咕噜咕噜 zzqx 嘟嘟嘟"]
            rejected = c.post("/api/analytics/answers/reject", json={"candidate_ids": ids})
            assert rejected.json()["rejected"] == 1
            assert c.post("/api/analytics/answers/approve", json={"candidate_ids": "x"}).status_code == 400
            assert c.post(f"/api/handoffs/{handoff.id}/resolve").status_code == 200
    finally:
        desk.stop()

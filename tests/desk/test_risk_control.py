"""Risk control on the desk, on a real database (SQLite and PostgreSQL):
escalation at the handoff and while waiting (once, to the complaints group,
ahead of the line, with the reason and an alert), repeated abuse alerted
once, abusive words masked on the agent's screen, and a supervisor blocking
a conversation (others refused, audited, Rasa told)."""
from __future__ import annotations

from sqlalchemy import select

from kefu.store.db import session_scope
from kefu.store.models import AuditEntry, BlockedConversation, Customer, Handoff, RiskEvent
from kefu.store.seed import OTHER_CUSTOMER
from tests.desk.conftest import wait_for

LEGAL = {"abuse": 0, "signals": ["legal"], "reasons": ["法律 legal"]}


def _row(store, conversation: str) -> Handoff:
    with session_scope(store.engine) as s:
        row = s.execute(select(Handoff).where(Handoff.conversation_id == conversation)
                        .order_by(Handoff.id.desc())).scalars().first()
        s.expunge(row)
        return row


def _kinds(store, conversation: str):
    with session_scope(store.engine) as s:
        return sorted(s.execute(select(RiskEvent.kind).where(RiskEvent.conversation_id == conversation)).scalars())


def test_a_signal_at_the_handoff_goes_to_complaints_ahead_of_the_line(desk_store):
    with session_scope(desk_store.engine) as s:
        vip = s.execute(select(Customer.id).where(Customer.phone == OTHER_CUSTOMER["phone"])).scalar_one()
    desk_store.queue_handoff("web:calm", "web", "requested", {"intents": ["ask_stock"]}, "zh")
    desk_store.queue_handoff("web:angry", "web", "requested", {"intents": ["ask_stock"], "risk": LEGAL}, "zh")
    desk_store.queue_handoff("web:angry-vip", "web", "requested", {"intents": ["ask_stock"], "risk": LEGAL}, "zh",
                             customer_id=vip)
    angry, angry_vip = _row(desk_store, "web:angry"), _row(desk_store, "web:angry-vip")
    assert (angry.skill_group, angry.priority) == ("complaints", 3)
    assert (angry_vip.skill_group, angry_vip.priority) == ("complaints", 4)  # the tier's 1 on top
    assert angry.escalated_at is not None
    assert desk_store.handoff(angry.id).routing[0]["kind"] == "risk"
    assert "法律 legal" in desk_store.handoff(angry.id).routing[0]["text"]
    assert desk_store.wait_for("web:angry-vip").position == 1 and desk_store.wait_for("web:angry").position == 2
    assert {a.kind for a in desk_store.open_alerts()} == {"escalation"}
    assert _kinds(desk_store, "web:angry") == ["legal"]


def test_a_signal_while_waiting_escalates_once(desk_store):
    desk_store.queue_handoff("web:later", "web", "requested", {"intents": ["ask_price_discount"]}, "zh")
    assert _row(desk_store, "web:later").skill_group == "presale"
    desk_store.add_shopper_message("web:later", "还不来人？我要打12315投诉你们")
    row = _row(desk_store, "web:later")
    assert (row.skill_group, row.priority) == ("complaints", 3)
    desk_store.add_shopper_message("web:later", "我已经联系律师了")
    assert _row(desk_store, "web:later").priority == 3  # once per handoff
    assert [n["kind"] for n in desk_store.handoff(row.id).routing] == ["routed", "risk"]
    assert [a.kind for a in desk_store.open_alerts()] == ["escalation"]
    assert _kinds(desk_store, "web:later") == ["legal", "regulator"]


def test_an_assigned_chat_keeps_its_agent_when_it_escalates(desk_store, make_agent):
    agent = make_agent("li")
    desk_store.set_online(agent, True)
    desk_store.queue_handoff("web:held", "web", "requested", {"intents": ["ask_stock"]}, "zh")
    desk_store.add_shopper_message("web:held", "再拖我就找记者曝光你们")
    row = _row(desk_store, "web:held")
    assert (row.status, row.agent_id, row.skill_group, row.priority) == ("assigned", agent, "presale", 3)


def test_repeated_abuse_is_alerted_once(desk_store):
    desk_store.queue_handoff("web:rude", "web", "requested", {"intents": ["ask_stock"]}, "zh")
    for text in ("傻逼", "你们都是废物", "滚蛋", "白痴"):
        desk_store.add_shopper_message("web:rude", text)
    assert desk_store.abuse_count("web:rude") == 4
    assert [a.kind for a in desk_store.open_alerts()] == ["abuse"]
    texts = [a.text for a in desk_store.open_alerts()]  # the words stay out of the alert
    assert not any("傻逼" in t or "废物" in t for t in texts)


def test_the_agent_reads_abuse_masked(desk, desk_store, make_agent, client, fake_rasa):
    agent = make_agent("li")
    desk_store.set_online(agent, True)
    desk_store.queue_handoff("web:masked", "web", "requested", {"intents": ["ask_stock"]}, "zh")
    fake_rasa.say("web:masked", "user", "你们这群傻逼，东西还没到")
    handoff = _row(desk_store, "web:masked")
    li = client("li")
    shown = li.get(f"/api/handoffs/{handoff.id}").json()
    texts = [t["text"] for t in shown["transcript"] if t["sender"] == "shopper"]
    assert texts == ["你们这群＊＊，东西还没到"]


def test_a_supervisor_blocks_a_conversation_others_may_not(desk, desk_store, make_agent, client, fake_rasa):
    from kefu.desk import routing as desk_routing

    make_agent("boss")
    make_agent("li")
    desk_routing.register(desk.app, supervisors=["boss"])
    desk_store.queue_handoff("web:blocked", "web", "requested", {"intents": ["ask_stock"]}, "zh")
    handoff = _row(desk_store, "web:blocked")
    boss, li = client("boss"), client("li")
    assert li.post(f"/api/handoffs/{handoff.id}/block", json={"reason": "abuse"}).status_code == 403
    assert boss.post(f"/api/handoffs/{handoff.id}/block", json={"reason": " "}).status_code == 400
    assert boss.post("/api/handoffs/999999/block", json={"reason": "abuse"}).status_code == 404
    done = boss.post(f"/api/handoffs/{handoff.id}/block", json={"reason": "多次辱骂 repeated abuse"})
    assert done.status_code == 200 and done.json()["notified"] is True
    assert desk_store.is_blocked("web:blocked") and _row(desk_store, "web:blocked").status == "closed"
    assert [c["conversation_id"] for c in fake_rasa.executed("action_block")] == ["web:blocked"]
    with session_scope(desk_store.engine) as s:
        assert s.get(BlockedConversation, "web:blocked").reason == "多次辱骂 repeated abuse"
        assert "block" in set(s.execute(select(AuditEntry.action)).scalars())
    assert boss.post(f"/api/handoffs/{handoff.id}/unblock").status_code == 200
    assert boss.post(f"/api/handoffs/{handoff.id}/unblock").status_code == 409
    assert not desk_store.is_blocked("web:blocked")
    wait_for(lambda: fake_rasa.executed("action_unblock"))

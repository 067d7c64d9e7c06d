"""An agent moves the tickets of the chat they hold (``POST
/api/handoffs/{id}/tickets/{ticket_id}/status``), over the wire with the
real desk app and database: only the agent holding the chat, only a ticket
its panel shows, only to a known status; audited; the shopper's service
record shows the new status."""
from __future__ import annotations

from sqlalchemy import text

from kefu.core import ids
from kefu.record.view import panel
from kefu.store.record import RecordStore
from kefu.store.shop import ShopStore

MINE, THEIRS = "wechat:o-demo-openid-zhangsan", "wechat:wx-tickets-theirs"


def _chats(client, make_agent, desk_store):
    make_agent("li", "小李")
    make_agent("wang", "小王")
    a, b = client("li"), client("wang")
    for c in (a, b):
        assert c.post("/api/presence", json={"online": False}).status_code == 200
    handoffs = []
    for conversation, agent in ((MINE, a), (THEIRS, b)):
        desk_store.queue_handoff(conversation, "wechat", "complaint", {"intents": ["complain"]}, language="zh")
        handoff = desk_store.active_handoff(conversation).id
        assert agent.post(f"/api/handoffs/{handoff}/claim").status_code == 200
        handoffs.append(handoff)
    return a, b, handoffs[0], handoffs[1]


def _ticket(desk_store, conversation: str):
    return ShopStore(desk_store.engine).create_ticket("complaint", "快递员态度很差", "shopper: ...", "wechat",
                                                      ids.conversation_key(conversation))


def test_the_agent_holding_the_chat_moves_its_ticket_and_the_record_shows_it(client, make_agent, desk_store):
    a, _b, mine, _theirs = _chats(client, make_agent, desk_store)
    ticket = _ticket(desk_store, MINE)
    shown = a.get(f"/api/handoffs/{mine}").json()["customer"]["tickets"]
    assert ticket.id in {t["id"] for t in shown}

    moved = a.post(f"/api/handoffs/{mine}/tickets/{ticket.id}/status", json={"status": "pending"})
    assert moved.status_code == 200, moved.text
    assert ShopStore(desk_store.engine).get_ticket(ticket.id).status == "pending"
    with desk_store.engine.connect() as db:
        audit = db.execute(text("select detail from audit_log where action = 'ticket_status' and target = :t"),
                           {"t": f"ticket:{ticket.id}"}).scalars().all()
    assert audit == ["open -> pending"]

    customer = ShopStore(desk_store.engine).customer_for_identity("wechat", "o-demo-openid-zhangsan")
    item = next(i for s in panel(RecordStore(desk_store.engine).record(customer), "zh")["sections"]
                for i in s["items"] if i["id"] == ticket.id)
    assert item["status_key"] == "pending" and item["status"] == "处理中"

    done = a.post(f"/api/handoffs/{mine}/tickets/{ticket.id}/status", json={"status": "resolved"})
    assert done.status_code == 200
    with desk_store.engine.connect() as db:
        resolved_at = db.execute(text("select resolved_at from tickets where id = :t"), {"t": ticket.id}).scalar()
    assert resolved_at is not None


def test_nobody_else_moves_a_ticket_and_nothing_but_a_status(client, make_agent, desk_store):
    a, b, mine, theirs = _chats(client, make_agent, desk_store)
    ticket, elsewhere = _ticket(desk_store, MINE), _ticket(desk_store, "rest:someone-else")
    path = f"/api/handoffs/{mine}/tickets/{ticket.id}/status"
    assert b.post(path, json={"status": "closed"}).status_code == 403  # wang does not hold the chat
    assert b.post(f"/api/handoffs/{theirs}/tickets/{ticket.id}/status", json={"status": "closed"}).status_code \
        == 404  # nor is it a ticket of wang's chat
    assert a.post(f"/api/handoffs/{mine}/tickets/{elsewhere.id}/status", json={"status": "closed"}).status_code \
        == 404  # another conversation's ticket, through li's own chat
    assert a.post(path, json={"status": "deleted"}).status_code == 400
    assert a.post(path, json=["resolved"]).status_code == 400
    assert client().post(path, json={"status": "closed"}).status_code == 401
    assert a.post(path, json={"status": "closed"}, headers={"X-Requested-With": "fetch"}).status_code == 403
    store = ShopStore(desk_store.engine)
    assert store.get_ticket(ticket.id).status == "open" and store.get_ticket(elsewhere.id).status == "open"

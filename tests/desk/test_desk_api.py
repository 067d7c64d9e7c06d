"""The desk's HTTP API against a fake Rasa: sessions, CSRF, access rules,
the agent flow (claim, reply, transfer, resolve), audit, live events."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
from sqlalchemy import text, update

from kefu.store.db import session_scope
from kefu.store.models import DeskSession
from tests.desk.conftest import PASSWORD, wait_for

API_GETS = ["/api/me", "/api/queue", "/api/agents", "/api/handoffs/1", "/api/canned", "/api/metrics", "/api/events"]
API_POSTS = ["/api/logout", "/api/presence", "/api/handoffs/1/claim", "/api/handoffs/1/transfer",
             "/api/handoffs/1/reply", "/api/handoffs/1/resolve"]


def test_every_api_route_needs_a_session(client):
    anonymous = client()
    for path in API_GETS:
        assert anonymous.get(path).status_code == 401, path
    for path in API_POSTS:
        assert anonymous.post(path, json={}).status_code == 401, path
    page = anonymous.get("/")
    assert page.status_code == 200 and "客服工作台" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_login_cookie_and_failed_login(client, make_agent, desk_store):
    li = make_agent("li", "小李")
    c = client()
    assert c.post("/api/login", json={"username": "li", "password": "wrong"}).status_code == 401
    response = c.post("/api/login", json={"username": "li", "password": PASSWORD})
    assert response.status_code == 200 and response.json()["agent"]["display_name"] == "小李"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=28800" in cookie
    assert c.get("/api/me").json()["agent"]["id"] == li
    assert c.post("/api/logout").status_code == 200
    assert c.get("/api/me").status_code == 401
    actions = [(e.agent_id, e.action) for e in reversed(desk_store.audit_entries())]
    assert actions == [(li, "login_failed"), (li, "login"), (li, "logout")]


def test_posts_need_the_csrf_header_and_same_origin(client, make_agent):
    make_agent("li")
    bare = client(csrf=False)
    assert bare.post("/api/login", json={"username": "li", "password": PASSWORD}).status_code == 403
    c = client("li")
    assert c.post("/api/presence", json={"online": False}, headers={"X-Requested-With": ""}).status_code == 403
    assert c.post("/api/presence", json={"online": False},
                  headers={"Origin": "https://evil.example"}).status_code == 403
    assert c.post("/api/presence", json={"online": False}).status_code == 200


def test_an_expired_session_is_refused(client, make_agent, desk_store):
    make_agent("li")
    c = client("li")
    assert c.get("/api/queue").status_code == 200
    with session_scope(desk_store.engine) as s:
        s.execute(update(DeskSession).values(expires_at=datetime.utcnow() - timedelta(seconds=1)))
    assert c.get("/api/queue").status_code == 401


def test_reply_and_resolve_go_through_rasa(client, make_agent, desk_store, fake_rasa):
    li = make_agent("li", "小李")
    c = client("li")  # logged in = online: takes the next chat
    fake_rasa.say("wx-123", "user", "我要找人工")
    fake_rasa.say("wx-123", "bot", "正在为您转接人工客服")
    assert desk_store.queue_handoff("wx-123", "wechat", "requested",
                                    {"intents": ["request_human"], "language": "zh"}) == 1
    mine = c.get("/api/queue").json()["mine"]
    assert [h["agent_id"] for h in mine] == [li]
    hid = mine[0]["id"]

    response = c.post(f"/api/handoffs/{hid}/reply", json={"text": "您好，我是小李，马上为您处理"})
    assert response.status_code == 200 and response.json()["notified"] is True
    call = fake_rasa.executed("action_agent_message")[-1]
    assert call["conversation_id"] == "wx-123"
    assert call["query"] == {"output_channel": "latest"}  # no secret in the URL: a JWT in the header
    detail = c.get(f"/api/handoffs/{hid}").json()
    assert [(t["sender"], t["text"]) for t in detail["transcript"]] == [
        ("shopper", "我要找人工"), ("bot", "正在为您转接人工客服"), ("agent", "您好，我是小李，马上为您处理")]
    assert detail["mine"] and detail["canned"] and all(any("\u4e00" <= ch <= "\u9fff" for ch in c_["text"])
                                                       for c_ in detail["canned"])

    assert c.post(f"/api/handoffs/{hid}/resolve").json()["handoff"]["status"] == "closed"
    assert [x["conversation_id"] for x in fake_rasa.executed("action_handback")] == ["wx-123"]
    assert desk_store.active_handoff("wx-123") is None
    with desk_store.engine.connect() as db:
        audit = db.execute(text("select action, target, detail from audit_log where agent_id = :a order by id"),
                           {"a": li}).all()
    assert [a[0] for a in audit] == ["login", "reply", "view_conversation", "resolve"]
    assert all("小李" not in (a[2] or "") for a in audit)  # the text of a reply is not audited


def test_a_reply_is_kept_when_rasa_is_down(client, make_agent, desk_store, fake_rasa):
    make_agent("li")
    c = client("li")
    desk_store.queue_handoff("c1", "web", "requested", "s")
    hid = c.get("/api/queue").json()["mine"][0]["id"]
    fake_rasa.jwt_secret = "rotated-secret-0123456789"  # Rasa now refuses the desk
    response = c.post(f"/api/handoffs/{hid}/reply", json={"text": "稍等"})
    assert response.status_code == 200 and response.json()["notified"] is False
    detail = c.get(f"/api/handoffs/{hid}").json()
    assert detail["rasa_ok"] is False
    assert [(t["sender"], t.get("pending")) for t in detail["transcript"]] == [("agent", True)]
    assert desk_store.pop_agent_messages("c1") == ["稍等"]  # the action will still find it


def test_claim_and_others_chats_are_forbidden(client, make_agent, desk_store):
    li, wang = make_agent("li"), make_agent("wang")
    a, b = client("li"), client("wang")
    for c in (a, b):  # both pause: the chat waits in the queue
        assert c.post("/api/presence", json={"online": False}).json()["agent"]["online"] is False
    desk_store.queue_handoff("web-9", "web", "complaint", "s", language="en")
    waiting = a.get("/api/queue").json()["waiting"]
    assert [(h["position"], h["language"]) for h in waiting] == [(1, "en")]
    hid = waiting[0]["id"]
    assert b.get(f"/api/handoffs/{hid}").status_code == 200  # waiting: everyone may look
    assert a.post(f"/api/handoffs/{hid}/reply", json={"text": "hi"}).status_code == 403  # claim first
    assert a.post(f"/api/handoffs/{hid}/claim").status_code == 200
    assert b.post(f"/api/handoffs/{hid}/claim").status_code == 403
    assert b.get(f"/api/handoffs/{hid}").status_code == 403
    assert b.post(f"/api/handoffs/{hid}/reply", json={"text": "hi"}).status_code == 403
    assert b.post(f"/api/handoffs/{hid}/resolve").status_code == 403
    assert b.post(f"/api/handoffs/{hid}/transfer", json={"to_agent_id": wang}).status_code == 403
    assert a.get("/api/handoffs/99999").status_code == 404
    # transfer to wang: now wang's, and li's no more
    assert a.post(f"/api/handoffs/{hid}/transfer", json={"to_agent_id": wang}).json()["handoff"]["agent_id"] == wang
    assert a.get(f"/api/handoffs/{hid}").status_code == 403
    assert b.post(f"/api/handoffs/{hid}/reply", json={"text": "Hello, I'm Wang"}).status_code == 200
    canned = b.get(f"/api/handoffs/{hid}").json()["canned"]
    assert any("Hello" in c["text"] for c in canned)  # English chat: English canned replies
    actions = [(e.agent_id, e.action) for e in reversed(desk_store.audit_entries())
               if e.action not in ("login", "pause")]
    # every look at a conversation is audited; a refused one shows nothing, so it is not a view
    assert actions == [(wang, "view_conversation"), (li, "claim"), (li, "transfer"), (wang, "reply"),
                       (wang, "view_conversation")]


def test_metrics_endpoint(client, make_agent, desk_store):
    make_agent("li")
    c = client("li")
    c.post("/api/presence", json={"online": False})
    desk_store.queue_handoff("q1", "web", "requested", "s")
    desk_store.queue_handoff("q2", "web", "requested", "s")
    m = c.get("/api/metrics").json()
    assert m["waiting"] == 2 and m["longest_wait_seconds"] >= 0
    assert [(a["display_name"], a["open_chats"], a["present"]) for a in m["per_agent"]] == [("Li", 0, False)]


def test_live_events_announce_queued_chats_and_messages(client, make_agent, desk_store, desk):
    make_agent("li")
    c = client("li")
    c.post("/api/presence", json={"online": False})
    seen = []
    with c.stream("GET", "/api/events", timeout=httpx.Timeout(15)) as stream:
        lines = stream.iter_lines()
        assert next(lines) == "event: hello"
        desk_store.queue_handoff("live-1", "web", "requested", "s")
        desk_store.add_shopper_message("live-1", "还在吗")
        for line in lines:
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if {e["type"] for e in seen} >= {"queued", "message"}:
                    break
    hid = desk_store.active_handoff("live-1").id
    assert {"type": "queued", "handoff_id": hid, "status": "waiting", "agent_id": None} in seen
    assert any(e["type"] == "message" and e["handoff_id"] == hid and e["sender"] == "shopper" for e in seen)


def test_the_poller_assigns_chats_when_an_agent_frees_up(client, make_agent, desk_store):
    li = make_agent("li", max_concurrent=1)
    c = client("li")
    desk_store.queue_handoff("p1", "web", "requested", "s")
    desk_store.queue_handoff("p2", "web", "requested", "s")
    assert desk_store.active_handoff("p2").status == "waiting"  # li is at the cap
    first = desk_store.active_handoff("p1").id
    assert c.post(f"/api/handoffs/{first}/resolve").status_code == 200
    assert wait_for(lambda: desk_store.active_handoff("p2").agent_id == li)

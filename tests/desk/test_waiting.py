"""The honest queue on a real database (SQLite and PostgreSQL): the estimate
from recent handling times and present agents, news told once, leaving a
message; and the desk's loop asking Rasa to tell the shopper."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from kefu.core.clock import to_db, utcnow
from kefu.desk import queue_news
from kefu.desk.rasa import RasaClient
from kefu.store.db import session_scope
from kefu.store.models import Agent, Handoff
from tests.desk.conftest import JWT_SECRET, PASSWORD


def _handled(store, minutes: float, now) -> None:
    """A chat an agent took and closed ``minutes`` later, earlier today."""
    with session_scope(store.engine) as s:
        s.add(Handoff(conversation_id=f"rest:old-{minutes}", channel="rest", reason="requested", summary="{}",
                      status="closed", created_at=to_db(now - timedelta(hours=2)),
                      assigned_at=to_db(now - timedelta(hours=1)),
                      closed_at=to_db(now - timedelta(hours=1) + timedelta(minutes=minutes))))


def _present(store, name: str, cap: int) -> int:
    """An agent online and just seen, without the presence ping that would
    also hand them waiting chats (the tests decide who is served)."""
    agent = store.add_agent(name, name.title(), PASSWORD, max_concurrent=cap)
    with session_scope(store.engine) as s:
        s.query(Agent).filter(Agent.id == agent).update({"online": True, "last_seen_at": to_db(utcnow())})
    return agent


def _queue(store, n: int) -> list:
    ids = [f"web:waiting-{i}" for i in range(n)]
    for conversation in ids:
        store.queue_handoff(conversation, "web", "requested", {"intents": ["request_human"]}, "zh")
    return ids


def test_no_agent_present_means_no_number(desk_store):
    [first] = _queue(desk_store, 1)
    wait = desk_store.start_waiting(first)
    assert wait.position == 1 and wait.minutes is None


def test_the_estimate_follows_recent_handling_and_present_slots(desk_store):
    now = utcnow()
    for minutes in (4, 6, 10):  # median 6 minutes a chat
        _handled(desk_store, minutes, now)
    _queue(desk_store, 3)
    assert desk_store.wait_for("web:waiting-2").minutes is None  # nobody present yet
    _present(desk_store, "li", cap=1)
    _present(desk_store, "wang", cap=1)
    third = desk_store.wait_for("web:waiting-2")
    assert third.position == 3 and third.minutes == 9  # 3 places x 6 min / 2 slots


def test_news_when_the_place_improves_and_once_when_the_estimate_passes(desk_store):
    now = utcnow()
    first, second = _queue(desk_store, 2)
    agent = _present(desk_store, "zhao", cap=1)
    told = desk_store.start_waiting(second, now)
    assert (told.position, told.minutes) == (2, 10)  # no history yet: 5 minutes a chat
    with session_scope(desk_store.engine) as s:  # the first shopper is served by hand
        s.query(Handoff).filter(Handoff.conversation_id == first).update({"status": "assigned", "agent_id": agent})
        s.query(Handoff).filter(Handoff.conversation_id == second).update(
            {"status": "waiting", "told_position": 2, "estimate_due_at": to_db(now + timedelta(minutes=5))})
    [moved] = desk_store.queue_news(now)
    assert (moved.kind, moved.wait.position, moved.wait.conversation_id) == ("moved", 1, second)
    assert desk_store.queue_news(now) == []  # told once
    [late] = desk_store.queue_news(now + timedelta(minutes=6))
    assert late.kind == "late" and late.wait.conversation_id == second
    assert desk_store.queue_news(now + timedelta(minutes=30)) == []  # reminded once


def test_leaving_a_message_ends_only_a_wait(desk_store):
    waiting, taken = _queue(desk_store, 2)
    with session_scope(desk_store.engine) as s:
        s.query(Handoff).filter(Handoff.conversation_id == taken).update({"status": "assigned"})
    assert desk_store.leave_message(taken) is None  # an agent already has it
    assert desk_store.leave_message(waiting) is not None
    assert desk_store.active_handoff(waiting) is None
    assert desk_store.leave_message(waiting) is None  # nothing left to leave


def test_the_desk_loop_has_rasa_tell_the_shopper(desk_store, fake_rasa):
    now = utcnow()
    [first, second] = _queue(desk_store, 2)
    with session_scope(desk_store.engine) as s:
        s.query(Handoff).filter(Handoff.conversation_id == first).update({"status": "closed"})
        s.query(Handoff).filter(Handoff.conversation_id == second).update(
            {"told_position": 2, "estimate_due_at": to_db(now + timedelta(hours=1))})

    async def once() -> int:
        rasa = RasaClient(fake_rasa.url, JWT_SECRET)
        try:
            return await queue_news.tell_once(desk_store, rasa)
        finally:
            await rasa.close()

    assert asyncio.run(once()) == 1
    [call] = fake_rasa.executed("action_queue_moved")
    assert call["conversation_id"] == second and call["query"]["output_channel"] == "latest"
    assert asyncio.run(once()) == 0

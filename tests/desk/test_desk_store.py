"""DeskStore on a real database: the queue, round-robin assignment with caps,
messages, transfers, audit, metrics, passwords and the migration."""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone

from sqlalchemy import text, update

from kefu.core.clock import to_db
from kefu.store.db import alembic_config, make_engine, migrate, session_scope
from kefu.store.desk import DeskStore, hash_password, verify_password
from kefu.store.models import Agent, Handoff
from tests.desk.conftest import PASSWORD


def online(store: DeskStore, *agent_ids: int) -> None:
    for agent_id in agent_ids:
        store.set_online(agent_id, True)


def test_queue_positions_are_fifo_and_idempotent(desk_store):
    assert desk_store.queue_handoff("a", "web", "requested", {"intents": ["request_human"], "language": "en"}) == 1
    assert desk_store.queue_handoff("b", "wechat", "fallback", "summary", language="zh") == 2
    assert desk_store.queue_handoff("c", "telegram", "requested", {}) == 3
    assert desk_store.queue_handoff("d", "telegram", "complaint", {}) == 1  # the complaints group's own line
    assert desk_store.queue_handoff("a", "web", "requested", "again") == 1  # queued once
    view = desk_store.active_handoff("a")
    assert (view.status, view.language, view.position) == ("waiting", "en", 1)
    assert view.summary == {"intents": ["request_human"], "language": "en"}
    assert desk_store.active_handoff("nobody") is None


def test_round_robin_fewest_open_then_least_recently_assigned_within_caps(desk_store, make_agent):
    li, wang, zhao, away = (make_agent("li", max_concurrent=1), make_agent("wang", max_concurrent=2),
                            make_agent("zhao", max_concurrent=2), make_agent("away"))
    online(desk_store, li, wang, zhao)
    # "away" is online but unseen for 10 minutes: not present, gets nothing
    with session_scope(desk_store.engine) as s:
        s.execute(update(Agent).where(Agent.id == away).values(
            online=True, last_seen_at=to_db(datetime.now(timezone.utc) - timedelta(minutes=10))))
    owners = []
    for i in range(6):
        desk_store.queue_handoff(f"c{i}", "web", "requested", "s")
        view = desk_store.active_handoff(f"c{i}")
        owners.append(view.agent_id)
    # all at 0 open: ties by least recently assigned (never, then by id): li, wang, zhao;
    # li is full (1); wang and zhao at 1: wang was assigned first -> wang, then zhao; then all full
    assert owners == [li, wang, zhao, wang, zhao, None]
    assert desk_store.active_handoff("c5").status == "waiting"
    # li resolves: the waiting chat goes to li (the only one below the cap)
    first = desk_store.active_handoff("c0")
    assert desk_store.resolve(first.id, li).ok
    assert desk_store.active_handoff("c5").agent_id == li
    assert all(a.open_chats <= a.max_concurrent for a in desk_store.agents())


def test_nobody_online_means_waiting_and_coming_online_takes_chats(desk_store, make_agent):
    li = make_agent("li")
    desk_store.queue_handoff("x", "web", "requested", "s")
    assert desk_store.active_handoff("x").status == "waiting"
    desk_store.set_online(li, True)
    assert desk_store.active_handoff("x").agent_id == li
    desk_store.set_online(li, False)
    desk_store.queue_handoff("y", "web", "requested", "s")
    assert desk_store.active_handoff("y").status == "waiting"


def test_shopper_and_agent_messages(desk_store, make_agent):
    li = make_agent("li")
    desk_store.queue_handoff("conv", "web", "requested", "s")
    handoff = desk_store.active_handoff("conv")
    desk_store.add_shopper_message("conv", "我的快递三天没动了")
    desk_store.add_shopper_message("nobody", "no open handoff: dropped")
    assert not desk_store.reply(handoff.id, li, "not mine yet").ok  # only the assigned agent answers
    assert desk_store.claim(handoff.id, li).ok
    assert desk_store.reply(handoff.id, li, "您好，我来帮您查").ok
    assert desk_store.reply(handoff.id, li, "已催促快递").ok
    assert not desk_store.reply(handoff.id, li, "   ").ok
    assert desk_store.pop_agent_messages("conv") == ["您好，我来帮您查", "已催促快递"]
    assert desk_store.pop_agent_messages("conv") == []  # delivered once
    senders = [m.sender for m in desk_store.messages(handoff.id)]
    assert senders == ["shopper", "agent", "agent"]
    assert desk_store.handoff(handoff.id).first_response_at is not None


def test_claim_transfer_and_resolve(desk_store, make_agent):
    li, wang = make_agent("li"), make_agent("wang")
    desk_store.queue_handoff("conv", "web", "requested", "s")
    hid = desk_store.active_handoff("conv").id
    assert desk_store.claim(hid, li).ok
    assert desk_store.claim(hid, wang).reason == "taken"
    assert desk_store.transfer(hid, wang, li).reason == "forbidden"  # not wang's to give
    assert desk_store.transfer(hid, li, 999).reason == "no_agent"
    moved = desk_store.transfer(hid, li, wang)
    assert moved.ok and moved.handoff.agent_id == wang
    assert desk_store.resolve(hid, li).reason == "forbidden"
    back = desk_store.transfer(hid, wang, None)
    assert back.ok and back.handoff.status == "waiting" and back.handoff.agent_id is None
    assert desk_store.claim(hid, li).ok
    assert desk_store.resolve(hid, li).ok
    assert desk_store.active_handoff("conv") is None
    assert desk_store.claim(hid, wang).reason == "closed"
    assert [m.sender for m in desk_store.messages(hid)] == ["system", "system"]
    actions = [(e.agent_id, e.action, e.target) for e in reversed(desk_store.audit_entries())]
    assert actions == [
        (li, "claim", f"handoff:{hid}"), (li, "transfer", f"handoff:{hid}"),
        (wang, "transfer", f"handoff:{hid}"), (li, "claim", f"handoff:{hid}"), (li, "resolve", f"handoff:{hid}"),
    ]
    # a new handoff of the same conversation is a new case
    assert desk_store.queue_handoff("conv", "web", "requested", "s") == 1
    assert desk_store.active_handoff("conv").id != hid


def test_metrics_on_a_known_set_of_handoffs(desk_store, make_agent):
    li, wang = make_agent("li"), make_agent("wang")
    now = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)

    def t(minutes: float) -> datetime:
        return to_db(now - timedelta(minutes=minutes))

    rows = [
        # waiting for 10 and 4 minutes
        dict(status="waiting", created_at=t(10)),
        dict(status="waiting", created_at=t(4)),
        # li: assigned after 2 min, answered 3 min after queueing, closed
        dict(status="closed", created_at=t(60), assigned_at=t(58), first_response_at=t(57), closed_at=t(30),
             agent_id=li),
        # li: assigned after 4 min, answered after 7 min, closed
        dict(status="closed", created_at=t(50), assigned_at=t(46), first_response_at=t(43), closed_at=t(20),
             agent_id=li),
        # wang: assigned after 6 min, still open, not answered yet
        dict(status="assigned", created_at=t(15), assigned_at=t(9), agent_id=wang),
        # two days ago: outside the 24 h window
        dict(status="closed", created_at=t(2900), assigned_at=t(2890), first_response_at=t(2880), closed_at=t(2870),
             agent_id=wang),
    ]
    with session_scope(desk_store.engine) as s:
        for i, row in enumerate(rows):
            s.add(Handoff(conversation_id=f"m{i}", channel="web", reason="requested", summary="s", **row))
    m = desk_store.metrics(now=now)
    assert (m.waiting, m.assigned) == (2, 1)
    assert m.longest_wait_seconds == 600 and m.current_avg_wait_seconds == 420
    assert m.avg_wait_seconds == 240  # (2 + 4 + 6) / 3 minutes
    assert m.avg_first_response_seconds == 300  # (3 + 7) / 2 minutes
    assert m.handled_total == 2
    per_agent = {a.agent_id: (a.open_chats, a.handled) for a in m.per_agent}
    assert per_agent == {li: (0, 2), wang: (1, 0)}


def test_passwords_are_salted_scrypt_hashes(desk_store, make_agent):
    stored = hash_password("秘密 password")
    assert stored.startswith("scrypt$") and "password" not in stored
    assert stored != hash_password("秘密 password")  # salted
    assert verify_password("秘密 password", stored) and not verify_password("wrong", stored)
    assert not verify_password("x", "plain-text-is-never-accepted")
    make_agent("li")
    with desk_store.engine.connect() as db:
        assert PASSWORD not in db.execute(text("select password_hash from agents")).scalar_one()


def test_login_sessions_and_lockout(desk_store, make_agent):
    li = make_agent("li")
    here, elsewhere = "203.0.113.5", "198.51.100.7"
    token, agent, outcome = desk_store.login("LI", PASSWORD, 8, here)
    assert outcome == "ok" and agent.id == li and desk_store.session_agent(token).id == li
    assert desk_store.session_agent("forged") is None
    for _ in range(5):
        assert desk_store.login("li", "wrong", 8, here)[2] == "bad_credentials"
    assert desk_store.login("li", PASSWORD, 8, here)[2] == "locked"  # 5 failures in 15 minutes, from here
    for _ in range(10):  # knocking on a locked door is not counted again: the lock does not feed itself
        assert desk_store.login("li", "wrong", 8, here)[2] == "locked"
    assert desk_store.login("li", PASSWORD, 8, elsewhere)[2] == "ok"  # nobody elsewhere can lock an agent out
    # after the backoff the right password works again from here
    later = datetime.now(timezone.utc) + timedelta(minutes=2)
    assert desk_store.login("li", PASSWORD, 8, here, now=later)[2] == "ok"
    desk_store.logout(token)
    assert desk_store.session_agent(token) is None
    failed = [e for e in desk_store.audit_entries() if e.action == "login_failed"]
    assert len(failed) == 5
    assert len([e for e in desk_store.audit_entries() if e.action == "login_locked"]) == 11
    with desk_store.engine.connect() as db:  # only hashes of tokens are stored
        assert token not in str(db.execute(text("select token_hash from desk_sessions")).all())


def test_unknown_names_answer_and_lock_exactly_like_known_ones(desk_store, make_agent):
    make_agent("li")
    answers = {}
    for name in ("li", "ghost"):
        answers[name] = [desk_store.login(name, "wrong", 8, "203.0.113.9")[2] for _ in range(6)]
    assert answers["li"] == answers["ghost"] == ["bad_credentials"] * 5 + ["locked"]
    assert all("ghost" not in (e.detail or "") and "li" != (e.detail or "")
               for e in desk_store.audit_entries())  # the names typed are not kept


def test_one_address_spraying_many_names_is_locked(desk_store, make_agent):
    make_agent("li")
    for n in range(30):
        desk_store.login(f"name{n}", "guess", 8, "203.0.113.66")
    assert desk_store.login("li", PASSWORD, 8, "203.0.113.66")[2] == "locked"
    assert desk_store.login("li", PASSWORD, 8, "198.51.100.1")[2] == "ok"


def test_a_weaker_hash_is_upgraded_at_login_and_password_changes_end_sessions(desk_store, make_agent):
    li = make_agent("li")
    old = "scrypt$16384$8$1$" + base64.b64encode(b"0" * 16).decode() + "$" + base64.b64encode(
        hashlib.scrypt(PASSWORD.encode(), salt=b"0" * 16, n=2**14, r=8, p=1, dklen=32)).decode()
    with session_scope(desk_store.engine) as s:
        s.execute(update(Agent).where(Agent.id == li).values(password_hash=old))
    laptop, _, _ = desk_store.login("li", PASSWORD, 8)
    with desk_store.engine.connect() as db:
        upgraded = db.execute(text("select password_hash from agents")).scalar_one()
    assert upgraded.startswith(f"scrypt${2**17}$") and verify_password(PASSWORD, upgraded)
    phone, _, _ = desk_store.login("li", PASSWORD, 8)
    assert not desk_store.change_password(li, "wrong", "new-password-1", laptop)
    assert desk_store.change_password(li, PASSWORD, "new-password-1", laptop)
    assert desk_store.session_agent(laptop).id == li and desk_store.session_agent(phone) is None
    desk_store.set_password("li", "operator-reset-2")  # the operator's reset ends every session
    assert desk_store.session_agent(laptop) is None
    assert desk_store.login("li", "new-password-1", 8)[2] == "bad_credentials"
    assert desk_store.login("li", "operator-reset-2", 8)[2] == "ok"


def test_migration_goes_down_and_up(tmp_path):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    command.downgrade(alembic_config(url), "0002")
    engine = make_engine(url)
    with engine.connect() as db:
        tables = {r[0] for r in db.execute(text("select name from sqlite_master where type='table'"))}
        columns = {r[1] for r in db.execute(text("pragma table_info(handoffs)"))}
    assert "agents" not in tables and "agent_id" not in columns
    migrate(url)
    with engine.connect() as db:
        columns = {r[1] for r in db.execute(text("pragma table_info(handoffs)"))}
    assert {"agent_id", "language", "customer_id", "assigned_at", "first_response_at"} <= columns
    engine.dispose()

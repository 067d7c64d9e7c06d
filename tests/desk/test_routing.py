"""Routing (客服轮岗) on a real database (SQLite and PostgreSQL), with the
shop's own routing.yml: the group a request and a tier call for, VIPs first
within the caps, skill groups, the roster, overflow to a backup group with a
controllable clock and the supervisors' alerts, over the desk's API too."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from kefu.core.clock import to_db, utcnow
from kefu.routing import policy as routing_policy
from kefu.routing.roster import on_shift, parse_shifts
from kefu.store.db import session_scope
from kefu.store.models import Agent, AuditEntry, Customer, Handoff
from kefu.store.seed import DEMO_CUSTOMER, OTHER_CUSTOMER
from tests.desk.conftest import PASSWORD, wait_for

ZONE = ZoneInfo("Asia/Shanghai")  # service_hours.yml's
MONDAY_10 = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai


def _customer(store, phone: str) -> int:
    with session_scope(store.engine) as s:
        return s.execute(select(Customer.id).where(Customer.phone == phone)).scalar_one()


def _present(store, name: str, cap: int = 3, skills: str = "", seen=None) -> int:
    """Online and seen (now, or at ``seen``), without the presence ping that
    would also hand them waiting chats (each test decides when chats are
    handed out)."""
    agent = store.add_agent(name, name.title(), PASSWORD, max_concurrent=cap)
    if skills:
        store.set_skills(agent, skills.split(","))
    with session_scope(store.engine) as s:
        s.query(Agent).filter(Agent.id == agent).update({"online": True, "last_seen_at": to_db(seen or utcnow())})
    return agent


def _queue(store, conversation: str, intents, reason: str = "requested", customer=None) -> int:
    return store.queue_handoff(conversation, "web", reason, {"intents": list(intents), "language": "zh"}, "zh",
                               customer_id=customer)


def _row(store, conversation: str) -> Handoff:
    with session_scope(store.engine) as s:
        row = s.execute(select(Handoff).where(Handoff.conversation_id == conversation)).scalar_one()
        s.expunge(row)
        return row


# -- the policy, as routing.yml states it --------------------------------------------------


def test_the_request_and_the_tier_decide_the_group_and_priority():
    policy = routing_policy.load()
    assert policy.route(["greet", "check_order_status", "request_human"], "requested", None).group == "aftersale"
    assert policy.route(["ask_price_discount"], "requested", "regular").group == "presale"
    assert policy.route(["greet"], "fallback", None).group == "presale"  # nothing specific: the default group
    assert policy.route(["check_order_status"], "complaint", None).group == "complaints"  # the reason decides
    vip = policy.route(["request_refund"], "requested", "vip")
    assert (vip.group, vip.priority, vip.tier) == ("vip", 1, "vip")
    assert "request_refund" in vip.note["text"] and "VIP" in vip.note["text"]
    svip_complaint = policy.route(["complain"], "complaint", "svip")  # complaints stay with the specialists
    assert (svip_complaint.group, svip_complaint.priority) == ("complaints", 2)
    assert policy.route(["request_refund"], "requested", "gold").tier == "regular"  # an unknown tier is regular
    fraud = policy.route(["complain"], "complaint", None, complaint="fraud")  # routing.yml: fraud +2
    assert (fraud.group, fraud.priority) == ("complaints", 2) and "fraud" in fraud.note["text"]
    assert policy.route(["complain"], "complaint", None, complaint="price").priority == 0


def test_a_policy_naming_an_unknown_group_is_refused_when_read():
    with pytest.raises(ValueError, match="unknown groups"):
        routing_policy.parse({"groups": {"presale": {"backup": "nobody"}}, "default_group": "presale"})


def test_shifts_parse_and_cover_local_time():
    shifts = parse_shifts("mon-fri 09:00-18:00, sun 10:00-16:00")
    assert [s.weekday for s in shifts] == [0, 1, 2, 3, 4, 6]
    monday_10_shanghai = MONDAY_10
    assert on_shift(shifts, monday_10_shanghai, ZONE)
    assert not on_shift(shifts, monday_10_shanghai + timedelta(hours=9), ZONE)  # 19:00
    assert not on_shift(shifts, monday_10_shanghai + timedelta(days=5), ZONE)  # Saturday
    assert on_shift([], monday_10_shanghai, ZONE)  # off the roster: whenever online
    for bad in ("mon-fri 9-18", "someday 09:00-10:00", "mon 18:00-09:00"):
        with pytest.raises(ValueError):
            parse_shifts(bad)


# -- the store ------------------------------------------------------------------------------


def test_tier_comes_from_the_shop_not_from_the_summary(desk_store):
    regular = _customer(desk_store, DEMO_CUSTOMER["phone"])
    desk_store.queue_handoff("web:claims-svip", "web", "requested",
                             {"intents": ["request_refund"], "tier": "svip"}, "zh", customer_id=regular)
    row = _row(desk_store, "web:claims-svip")
    assert (row.tier, row.priority, row.skill_group) == ("regular", 0, "aftersale")


def test_a_vip_overtakes_regular_shoppers_in_the_line(desk_store):
    vip = _customer(desk_store, OTHER_CUSTOMER["phone"])  # 李四, a VIP in the demo shop
    assert desk_store.customer_tier(vip) == "vip"
    assert _queue(desk_store, "web:regular-1", ["complain"], "complaint") == 1
    assert _queue(desk_store, "web:regular-2", ["complain"], "complaint") == 2
    assert _queue(desk_store, "web:vip", ["complain"], "complaint", customer=vip) == 1  # ahead of both
    assert desk_store.wait_for("web:regular-1").position == 2
    assert desk_store.wait_for("web:regular-2").position == 3
    row = _row(desk_store, "web:vip")
    assert (row.skill_group, row.priority, row.tier) == ("complaints", 1, "vip")
    agent = _present(desk_store, "li", cap=1)
    assert desk_store.assign_waiting() == [(row.id, agent)]  # the VIP first, and only one: the cap holds
    assert desk_store.wait_for("web:regular-1").position == 1
    view = desk_store.queue(agent)
    assert [h.conversation_id for h in view["mine"]] == ["web:vip"]
    assert view["mine"][0].routing[0]["kind"] == "routed"


def test_skill_groups_decide_who_serves_and_specialists_come_first(desk_store):
    aftersale = _present(desk_store, "wang", skills="aftersale")
    generalist = _present(desk_store, "zhou")  # no skills: every group
    _queue(desk_store, "web:price", ["ask_price_discount"])  # queueing assigns at once
    _queue(desk_store, "web:refund", ["request_refund"])
    assert _row(desk_store, "web:price").agent_id == generalist  # wang serves after-sale only
    assert _row(desk_store, "web:refund").agent_id == aftersale  # the specialist, though zhou has fewer chats
    with pytest.raises(ValueError, match="unknown skill groups"):
        desk_store.set_skills(aftersale, ["aftersale", "karaoke"])


def test_only_agents_on_shift_get_new_chats(desk_store):
    now = MONDAY_10  # the clock the store is given; the agents were seen then
    evening = _present(desk_store, "evening", seen=now)
    desk_store.set_shifts(evening, parse_shifts("mon-fri 18:00-23:00"))
    _queue(desk_store, "web:shift", ["ask_stock"])
    assert desk_store.assign_waiting(now=now) == []
    assert desk_store.wait_for("web:shift", now=now).minutes is None  # nobody on shift: no honest number
    day = _present(desk_store, "day", cap=1, seen=now)
    desk_store.set_shifts(day, parse_shifts("mon 09:00-12:00"))
    assert desk_store.wait_for("web:shift", now=now).minutes == 5
    assert [a for _, a in desk_store.assign_waiting(now=now)] == [day]
    assert [a.shifts for a in desk_store.agents()] == [
        "mon 18:00-23:00, tue 18:00-23:00, wed 18:00-23:00, thu 18:00-23:00, fri 18:00-23:00", "mon 09:00-12:00"]


def test_a_long_wait_overflows_to_the_backup_group_once_and_alerts(desk_store):
    _present(desk_store, "wang", skills="aftersale", cap=1)
    _queue(desk_store, "web:busy", ["request_return"])  # takes wang's only slot
    desk_store.assign_waiting()
    _queue(desk_store, "web:long", ["request_return"])
    presale = _present(desk_store, "li", skills="presale")
    assert desk_store.assign_waiting() == []  # li serves presale only
    queued = _row(desk_store, "web:long").created_at.replace(tzinfo=timezone.utc)
    assert desk_store.overflow_waiting(now=queued + timedelta(minutes=2)) == []  # under routing.yml's 3 minutes
    [alert] = desk_store.overflow_waiting(now=queued + timedelta(minutes=4))
    assert desk_store.overflow_waiting(now=queued + timedelta(minutes=9)) == []  # once
    row = _row(desk_store, "web:long")
    assert (row.skill_group, row.overflowed_from) == ("presale", "aftersale")
    assert alert.kind == "overflow" and alert.handoff_id == row.id and "售后" in alert.text and "售前" in alert.text
    assert [a.id for a in desk_store.open_alerts()] == [alert.id]
    assert [n["kind"] for n in desk_store.handoff(row.id).routing] == ["routed", "overflow"]
    assert desk_store.assign_waiting() == [(row.id, presale)]  # the backup group serves it
    assert desk_store.acknowledge_alert(alert.id, presale)
    assert not desk_store.acknowledge_alert(alert.id, presale)
    assert desk_store.open_alerts() == []
    with session_scope(desk_store.engine) as s:
        actions = set(s.execute(select(AuditEntry.action)).scalars())
    assert {"handoff.overflow", "alert.acknowledge"} <= actions


def test_estimates_count_only_the_agents_who_serve_the_line(desk_store):
    _present(desk_store, "li", skills="presale", cap=2)
    _queue(desk_store, "web:refund-wait", ["request_refund"])
    assert desk_store.wait_for("web:refund-wait").minutes is None  # li serves presale only
    _present(desk_store, "wang", skills="aftersale", cap=1)
    assert desk_store.wait_for("web:refund-wait").minutes == 5  # 1 place x 5 min default / 1 slot


# -- over the desk's API --------------------------------------------------------------------


def test_supervisors_see_lines_and_alerts_others_are_refused(desk, desk_store, make_agent, client):
    from kefu.desk import routing as desk_routing

    for name in ("boss", "li"):  # logged in, so online: they serve complaints only, and the chat waits
        desk_store.set_skills(make_agent(name), ["complaints"])
    desk_routing.register(desk.app, supervisors=["boss"])
    _queue(desk_store, "web:api-long", ["request_return"])
    row = _row(desk_store, "web:api-long")
    with session_scope(desk_store.engine) as s:  # queued long ago: the desk's poller overflows it
        s.query(Handoff).filter(Handoff.id == row.id).update(
            {"group_since": to_db(utcnow() - timedelta(minutes=10))})
    boss, li = client("boss"), client("li")
    alerts = wait_for(lambda: boss.get("/api/alerts").json()["alerts"])
    assert alerts[0]["handoff_id"] == row.id
    assert li.get("/api/alerts").status_code == 403 and li.get("/api/routing").status_code == 403
    assert li.post(f"/api/alerts/{alerts[0]['id']}/ack").status_code == 403
    assert boss.get("/api/me").json()["supervisor"] is True and li.get("/api/me").json()["supervisor"] is False
    lines = {g["group"]: g for g in boss.get("/api/routing").json()["groups"]}
    assert lines["presale"]["waiting"] == 1 and lines["aftersale"]["waiting"] == 0
    queue = li.get("/api/queue").json()
    assert queue["groups"]["vip"].startswith("VIP")
    [waiting] = queue["waiting"]
    assert (waiting["skill_group"], waiting["overflowed_from"]) == ("presale", "aftersale")
    assert boss.post(f"/api/alerts/{alerts[0]['id']}/ack").status_code == 200
    assert boss.post(f"/api/alerts/{alerts[0]['id']}/ack").status_code == 404
    assert boss.get("/api/alerts").json()["alerts"] == []

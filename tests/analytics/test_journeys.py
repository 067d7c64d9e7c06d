"""Service journeys, CSAT by who handled the conversation, and the regional
view: Rasa's own events in a real SQL tracker store, folded by the ingest
into a real shop database, read back through ``metrics.compute``, the
dashboard's API and ``make report``'s HTML."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Dict, List, Tuple

import pytest

from kefu.analytics import ingest, metrics, regions
from kefu.analytics.report import write_report
from kefu.store.db import make_engine, migrate, session_scope
from kefu.store.models import Ticket
from kefu.store.seed import seed
from tests.analytics.seeded import DAY1, create_tracker_store, write_events
from tests.analytics.test_dashboard import login
from tests.conftest import NOW

START = DAY1 + timedelta(hours=1)


def _events(sender: str, minute: int, steps: List[Tuple[str, Any]]) -> List[Tuple[str, Dict[str, Any]]]:
    """One conversation: ("user", (text, intent)), ("slot", (name, value)), ("bot", response name)."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered

    t = (START + timedelta(minutes=minute)).timestamp()
    out = [ActionExecuted("action_session_start", timestamp=t), SessionStarted(timestamp=t + 0.001),
           ActionExecuted("action_listen", timestamp=t + 0.002)]
    for i, (kind, value) in enumerate(steps, start=1):
        at = t + i
        if kind == "user":
            text, intent = value
            out.append(UserUttered(text, intent={"name": intent, "confidence": 0.95},
                                   parse_data={"intent": {"name": intent, "confidence": 0.95}, "entities": []},
                                   timestamp=at))
        elif kind == "slot":
            out.append(SlotSet(value[0], value[1], timestamp=at))
        else:
            out.append(BotUttered("…", metadata={"utter_action": value}, timestamp=at))
    return [(sender, e.as_dict()) for e in out]


ORDER = "2611010000000001"


def journeys_events() -> List[Tuple[str, Dict[str, Any]]]:
    asked = ("user", ("我的订单到哪了", "check_order_status"))
    return [
        # order lookup: one all the way, one stops at the digits, one never gives an id, one vouched (no proof)
        *_events("web:j1", 0, [asked, ("slot", ("order_id", ORDER)), ("slot", ("verified_order", ORDER)),
                               ("bot", "utter_order_status"), ("user", ("5分", "inform")),
                               ("bot", "utter_thanks_for_rating")]),
        *_events("web:j2", 1, [asked, ("slot", ("order_id", ORDER)),
                               ("user", ("手机号是13800005678 尾号忘了", "inform")), ("slot", ("order_id", None))]),
        *_events("web:j3", 2, [asked, ("user", ("算了傻逼", "deny"))]),
        *_events("telegram:j4", 3, [asked, ("bot", "utter_order_status")]),
        # a return: asked, eligible (the form asks for a reason), a photo, submitted; and one not eligible
        *_events("web:j5", 4, [("user", ("我要退货", "request_return")),
                               ("slot", ("requested_slot", "aftersale_reason")), ("user", ("杯子碎了", "inform")),
                               ("user", ("/send_photo", "send_photo")),
                               ("bot", "utter_aftersale_created")]),
        *_events("web:j6", 5, [("user", ("退货", "request_return")), ("bot", "utter_aftersale_not_eligible")]),
        # no journey at all
        *_events("web:j7", 6, [("user", ("你好", "greet")), ("bot", "utter_greet")]),
    ]


@pytest.fixture
def journeys_db(tmp_path):
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"
    create_tracker_store(tracker)
    write_events(tracker, journeys_events())
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate(url)
    engine = make_engine(url)
    ingest.ingest_tracker_store(engine, tracker, batch_size=5)
    ingest.ingest_tracker_store(engine, tracker)  # nothing twice
    yield engine, tracker
    engine.dispose()


def _flow(figures: Dict[str, Any], code: str) -> Dict[str, Any]:
    return next(f for f in figures["journeys"] if f["flow"] == code)


def test_funnels_count_each_step_with_drop_off_and_examples(journeys_db):
    engine, tracker = journeys_db
    figures = metrics.compute(engine, DAY1, DAY1 + timedelta(days=1))
    lookup = _flow(figures, "order_lookup")
    assert (lookup["started"], lookup["completed"], lookup["completion"]) == (4, 1, 0.25)
    assert [(s["step"], s["reached"], s["dropped"]) for s in lookup["steps"]] == [
        ("asked", 4, 1), ("order_id", 3, 1), ("proven", 2, 0), ("answered", 2, 1), ("rated", 1, 0)]
    [dropped_at_asking] = lookup["steps"][0]["examples"]
    assert dropped_at_asking == "算了＊＊"  # what they said last, abuse masked
    [dropped_at_digits] = lookup["steps"][1]["examples"]
    assert "13800005678" not in dropped_at_digits  # personal data anonymised
    ret = _flow(figures, "return")
    assert [(s["step"], s["reached"], s["dropped"]) for s in ret["steps"]] == [
        ("asked", 2, 1), ("eligible", 1, 0), ("photos", 1, 0), ("submitted", 1, 0)]
    # the same events again (a broker redelivering) change nothing
    write_events(tracker, journeys_events())
    ingest.ingest_tracker_store(engine, tracker)
    assert metrics.compute(engine, DAY1, DAY1 + timedelta(days=1))["journeys"] == figures["journeys"]


def test_funnels_in_the_report(journeys_db, tmp_path):
    engine, _ = journeys_db
    page = write_report(metrics.compute(engine, DAY1, DAY1 + timedelta(days=1)), tmp_path / "report")
    html = page.read_text(encoding="utf-8")
    assert 'data-metric="journeys.order_lookup.proven.reached" data-value="2"' in html
    assert (tmp_path / "report" / "journeys.png").stat().st_size > 1000
    assert (tmp_path / "report" / "regions.png").stat().st_size > 1000


def test_csat_is_split_between_bot_only_and_agent_handled(shop_engine, tracker_url):
    ingest.ingest_tracker_store(shop_engine, tracker_url)
    figures = metrics.compute(shop_engine, DAY1, DAY1 + timedelta(days=2))
    split = {row["key"]: (row["count"], row["average"]) for row in figures["csat"]["by_handling"]}
    assert split == {"bot_only": (2, 4.0), "agent": (2, 3.0)}  # 5 and 3 by the bot alone; 4 (小李), 2 (小王)


@pytest.mark.parametrize("address,province", [
    ("上海市浦东新区张江路88号", "上海"), ("广东省深圳市南山区科技园路1号", "广东"),
    ("新疆乌鲁木齐市天山区解放北路2号", "新疆"), ("内蒙古自治区呼和浩特市", "内蒙古"),
    ("黑龙江省哈尔滨市", "黑龙江"), ("Flat 3, 12 Baker Street, London", None), ("", None),
])
def test_the_province_of_an_address(address, province):
    assert regions.province_of(address) == province


def test_orders_and_complaints_by_province_on_the_demo_shop(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate(url)
    engine = make_engine(url)
    seed(engine, orders=120, now=NOW)
    now = NOW.replace(tzinfo=None) if NOW.tzinfo else NOW
    with session_scope(engine) as s:
        s.add(Ticket(id="TK99999999", category="complaint", priority=1, status="open", summary="s", excerpt="e",
                     channel="web", conversation_key="k", order_id="2611010000000001", created_at=now,
                     sla_due_at=now, complaint_category="logistics"))
    start, end = now - timedelta(days=400), now + timedelta(days=1)
    with session_scope(engine) as s:
        found = regions.by_province(s, start, end)
        from sqlalchemy import func, select

        from kefu.store.models import Order
        total = s.execute(select(func.count()).select_from(Order).where(Order.created_at >= start,
                                                                         Order.created_at < end)).scalar_one()
    provinces = {p["province"]: p for p in found["provinces"]}
    assert len(provinces) == 34 and sum(p["orders"] for p in provinces.values()) + found["unknown_orders"] == total
    assert found["unknown_orders"] == 0  # every demo address names its province
    assert provinces["上海"]["orders"] >= 8 and provinces["上海"]["complaints"] == 1  # 张三's orders ship to 上海
    figures = metrics.compute(engine, start, end)
    assert figures["complaints"] == [{"category": "logistics", "count": 1}]
    engine.dispose()


def test_the_dashboard_serves_the_journeys_and_the_regions(dashboard, make_agent):
    make_agent("boss")
    boss = login(dashboard.url, "boss")
    assert boss.post("/api/analytics/ingest", json={}).status_code == 200
    got = boss.get("/api/analytics/metrics", params={"from": "2026-03-02", "to": "2026-03-03"}).json()
    assert {f["flow"] for f in got["journeys"]} == {"order_lookup", "return"}
    assert _flow(got, "order_lookup")["started"] == 1  # web:s1 asked where the order was
    assert len(got["regions"]["provinces"]) == 34
    assert {r["key"] for r in got["csat"]["by_handling"]} == {"bot_only", "agent"}

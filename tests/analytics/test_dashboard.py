"""The managers' dashboard: its API gives the seeded figures (SQLite, and
PostgreSQL when present), needs a login, and renders in real Chromium."""
from __future__ import annotations

import os

import httpx
import pytest
from sqlalchemy import text

from kefu.analytics import answers
from kefu.desk.app import create_app
from kefu.desk.dashboard import ECHARTS, TRACKER, register
from kefu.desk.settings import DeskSettings
from tests.analytics.seeded import BOTH_DAYS, DAY1_ONLY, assert_figures, day1_events, day2_events, write_events
from tests.conftest import launch_chromium
from tests.desk.conftest import PASSWORD, ServedApp

BOTH = {"from": "2026-03-02", "to": "2026-03-03"}
FIRST = {"from": "2026-03-02", "to": "2026-03-02"}


def login(url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=url, headers={"X-Requested-With": "XMLHttpRequest"}, timeout=15)
    response = client.post("/api/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


def test_dashboard_api_gives_the_seeded_figures(dashboard, make_agent):
    make_agent("boss", "主管")
    anonymous = httpx.Client(base_url=dashboard.url, timeout=15)
    assert anonymous.get("/api/analytics/metrics", params=BOTH).status_code == 401
    assert anonymous.get("/api/analytics/export").status_code == 401
    assert anonymous.get("/dashboard").status_code == 200  # the page itself; its data needs the session

    boss = login(dashboard.url, "boss")
    ingested = boss.post("/api/analytics/ingest", json={})
    assert ingested.status_code == 200 and ingested.json()["events"] == len(day1_events())
    assert_figures(boss.get("/api/analytics/metrics", params=FIRST).json(), DAY1_ONLY)
    # day 2 arrives later: the next ingest reads only it

    write_events(dashboard.app[TRACKER], day2_events())
    assert boss.post("/api/analytics/ingest", json={}).json()["events"] == len(day2_events())
    assert_figures(boss.get("/api/analytics/metrics", params=BOTH).json(), BOTH_DAYS)
    assert boss.get("/api/analytics/metrics", params={"from": "2026-03-04", "to": "2026-03-01"}).status_code == 400

    messages = boss.get("/api/analytics/misunderstood", params={"status": "new"}).json()["messages"]
    assert len(messages) == 3
    target = next(m for m in messages if m["text"] == "你们太坑了")

    def post(body):
        return boss.post(f"/api/analytics/misunderstood/{target['id']}/label", json=body)

    assert post({"intent": "bad intent!"}).status_code == 400
    labelled = post({"intent": "complain"})
    assert labelled.status_code == 200 and labelled.json()["message"]["status"] == "labelled"
    assert boss.post("/api/analytics/misunderstood/999999/label", json={"intent": "greet"}).status_code == 404
    assert boss.post(f"/api/analytics/misunderstood/{target['id']}/label", json={"intent": "greet"},
                     headers={"X-Requested-With": ""}).status_code == 403  # CSRF header required
    exported = boss.get("/api/analytics/export")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    assert "- intent: complain" in exported.text and "你们太坑了" in exported.text
    assert "complain" in boss.get("/api/analytics/intents").json()["intents"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_only_managers_when_managers_are_listed(desk_url, desk_store, fake_rasa, make_agent, tracker_url):
    make_agent("boss", "主管")
    make_agent("li", "小李")
    app = create_app(DeskSettings(database_url=desk_url, rasa_url=fake_rasa.url, poll_seconds=0.2))
    register(app, managers=["Boss"], tracker_url=tracker_url, ingest_seconds=0)
    register(app)  # a call without arguments changes nothing
    server = ServedApp(app)
    try:
        assert login(server.url, "li").get("/api/analytics/metrics").status_code == 403
        assert login(server.url, "boss").get("/api/analytics/metrics").status_code == 200
    finally:
        server.stop()


def test_only_trainers_approve_learned_answers_when_trainers_are_listed(desk_url, desk_store, fake_rasa, make_agent,
                                                                       tracker_url):
    make_agent("teacher", "培训师")
    make_agent("li", "小李")
    desk_store.queue_handoff("rest:learn-perm", "rest", "fallback", {"intents": []}, language="zh")
    handoff = desk_store.active_handoff("rest:learn-perm").id
    ids = [answers.collect(desk_store.engine, handoff, q, "可以寄存7天", "zh") for q in ("能寄存吗", "可以寄存商品吗")]
    app = create_app(DeskSettings(database_url=desk_url, rasa_url=fake_rasa.url, poll_seconds=0.2))
    register(app, trainers=["Teacher"], tracker_url=tracker_url, ingest_seconds=0)
    server = ServedApp(app)
    approval = {"candidate_ids": ids, "topic": "storage", "questions": ["能寄存吗", "可以寄存商品吗"],
                "answer_zh": "可以的，免费寄存7天。", "answer_en": "Yes, for free for 7 days."}
    try:
        li, teacher = login(server.url, "li"), login(server.url, "teacher")
        shown = li.get("/api/analytics/answers").json()["groups"]  # anyone on the dashboard sees them
        assert sorted(c["id"] for g in shown for c in g["candidates"]) == sorted(ids)
        assert li.post("/api/analytics/answers/approve", json=approval).status_code == 403
        assert li.post("/api/analytics/answers/reject", json={"candidate_ids": ids}).status_code == 403
        assert teacher.post("/api/analytics/answers/approve", json={**approval, "topic": "size_guide"}).json() == \
            {"error": "topic_exists"}
        approved = teacher.post("/api/analytics/answers/approve", json=approval)
        assert approved.status_code == 200 and approved.json()["proposal"]["topic"] == "storage"
        exported = teacher.get("/api/analytics/answers/export", params={"mark": "1"})
        assert exported.status_code == 200 and "faq/storage" in exported.text
        assert "faq/storage" not in teacher.get("/api/analytics/answers/export").text
        with desk_store.engine.connect() as db:
            audit = db.execute(text("select target from audit_log where action = 'approve_answer'")).scalars().all()
        assert audit == ["faq:storage"]
    finally:
        server.stop()


# -- in the browser ---------------------------------------------------------------------

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def page():
    with playwright_api.sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(locale="zh-CN", accept_downloads=True)
        page.set_default_timeout(10_000)
        yield page
        browser.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dashboard_renders_in_chromium(page, dashboard, make_agent, tmp_path):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    make_agent("boss", "主管")
    expect = playwright_api.expect
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{dashboard.url}/dashboard")  # logged out: sent to the desk's login
    expect(page.locator("#login-needed")).to_be_visible()
    page.goto(dashboard.url)
    page.fill("#username", "boss")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    expect(page.locator("#me")).to_contain_text("主管")

    page.goto(f"{dashboard.url}/dashboard?from=2026-03-02&to=2026-03-03")
    expect(page.locator("#dashboard")).to_be_visible()
    page.click("#ingest")  # reads the tracker store's events
    expect(page.locator("#status")).to_contain_text(f"{len(day1_events())} events read")
    expect(page.locator("#kpi-conversations")).to_have_text("6")
    expect(page.locator("#kpi-containment")).to_have_text("50.0%")
    expect(page.locator("#kpi-handoff-rate")).to_have_text("50.0%")
    expect(page.locator("#kpi-fallback-rate")).to_have_text("20.0%")
    expect(page.locator("#kpi-wait")).to_have_text("3.0 min")
    expect(page.locator("#kpi-first-response")).to_have_text("3.0 min")
    expect(page.locator("#kpi-resolution")).to_have_text("15.0 min")
    expect(page.locator("#kpi-csat")).to_have_text("3.5")  # ratings are in the shop DB: day 2's too
    # charts: a time series (48 hours) and bars
    expect(page.locator("#chart-timeseries svg circle")).to_have_count(48)
    expect(page.locator("#chart-channels svg rect.bar")).to_have_count(5)  # web, rest, telegram, wechat, mail
    expect(page.locator('#chart-channels rect[data-label="web"]')).to_have_attribute("data-value", "2")
    expect(page.locator("#chart-reasons svg rect.bar")).to_have_count(3)
    expect(page.locator("#chart-faq svg rect.bar")).to_have_count(4)
    expect(page.locator("#csat-agent")).to_contain_text("小王")
    # service journeys, CSAT bot only vs agent, the province heat map (Apache ECharts, served by the desk)
    expect(page.locator('#journeys [data-flow="order_lookup"] tr[data-step="asked"]')).to_contain_text("1")
    expect(page.locator("#csat-handling")).to_contain_text("人工 Agent")
    if ECHARTS.is_file() or os.environ.get("CI") == "true":
        expect(page.locator("#chart-journeys svg")).to_have_count(1)
        funnel = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-journeys'))"
                               ".getOption().series.map((s) => s.data.map((d) => d.value))")
        assert funnel[0][0] == 1 and len(funnel) == 2  # order lookup: asked once; and the return flow
        tiles = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-regions'))"
                              ".getOption().series[0].data.length")
        assert tiles == 34
    else:  # no npm on this machine: the tables carry the figures
        expect(page.locator("#chart-journeys")).to_have_class("echart off")

    # the date-range filter
    page.fill("#to", "2026-03-02")
    page.click("#apply")
    expect(page.locator("#chart-timeseries svg circle")).to_have_count(24)
    expect(page.locator("#kpi-conversations")).to_have_text("6")
    expect(page.locator("#kpi-ratings")).to_have_text("3")
    expect(page.locator("#kpi-csat")).to_have_text("3.67")
    page.fill("#from", "2026-03-03")
    page.fill("#to", "2026-03-03")
    page.click("#apply")
    expect(page.locator("#kpi-conversations")).to_have_text("0")
    page.fill("#from", "2026-03-02")
    page.click("#apply")
    expect(page.locator("#kpi-conversations")).to_have_text("6")

    # the trainer's list: label, then download the NLU YAML
    rows = page.locator("#trainer-list tbody tr[data-id]")
    expect(rows).to_have_count(3)
    row = rows.filter(has_text="你们太坑了")
    row.locator("select.label-intent").select_option("complain")
    row.locator("button.label-save").click()
    expect(row).to_have_class("saved")
    other = rows.filter(has_text="asdf")
    other.locator("select.label-intent").select_option("faq/authenticity")
    other.locator("button.label-save").click()
    expect(other).to_have_class("saved")
    with page.expect_download() as download:
        page.click("#export")
    path = tmp_path / "export.yml"
    download.value.save_as(path)
    data = RasaYAMLReader().reads(path.read_text(encoding="utf-8"))
    assert {(m.get_full_intent(), m.get("text")) for m in data.intent_examples} == {
        ("complain", "你们太坑了"), ("faq/authenticity", "asdf 那个东西呢")}
    page.select_option("#trainer-status", "labelled")
    expect(rows).to_have_count(2)
    assert errors == []

"""Ingest, figures, report and the trainers' export on the seeded conversations."""
from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from kefu.analytics import ingest, metrics, trainer
from kefu.analytics.__main__ import main
from kefu.core.ids import conversation_key
from kefu.store.db import session_scope
from kefu.store.models import AnalyticsConversation
from tests.analytics.seeded import BOTH_DAYS, DAY1_ONLY, assert_figures, day1_events, day2_events, write_events

BOTH = metrics.day_range(date(2026, 3, 2), date(2026, 3, 3))
FIRST = metrics.day_range(date(2026, 3, 2), date(2026, 3, 2))


def test_ingest_is_incremental_and_the_figures_are_the_known_ones(shop_engine, tracker_url):
    assert ingest.ingest_tracker_store(shop_engine, tracker_url, batch_size=7) == len(day1_events())
    assert ingest.ingest_tracker_store(shop_engine, tracker_url) == 0  # nothing new: nothing read twice
    assert_figures(metrics.compute(shop_engine, *FIRST), DAY1_ONLY)

    write_events(tracker_url, day2_events())
    assert ingest.ingest_tracker_store(shop_engine, tracker_url) == len(day2_events())
    assert ingest.cursor_position(shop_engine) == len(day1_events()) + len(day2_events())
    figures = metrics.compute(shop_engine, *BOTH)
    assert_figures(figures, BOTH_DAYS)
    assert_figures(metrics.compute(shop_engine, *FIRST), DAY1_ONLY)
    assert figures["conversations"]["bucket"] == "hour" and len(figures["conversations"]["timeseries"]) == 48
    with session_scope(shop_engine) as s:  # the returning shopper's new session is a new conversation
        starts = s.execute(select(AnalyticsConversation.started_at)
                           .where(AnalyticsConversation.conversation_key == conversation_key("web:s1"))).scalars().all()
    assert len(starts) == 2


def test_a_missing_tracker_store_is_nothing_to_ingest(shop_engine, tmp_path):
    assert ingest.ingest_tracker_store(shop_engine, f"sqlite:///{tmp_path / 'none.db'}") == 0


def _report_values(html: str) -> dict:
    return dict(re.findall(r'data-metric="([^"]+)" data-value="([^"]*)"', html))


def test_report_html_and_charts_carry_the_same_figures(shop_engine, tracker_url, tmp_path):
    write_events(tracker_url, day2_events())
    out = tmp_path / "report"
    assert main(["--database-url", shop_engine.url_text, "report", "--from", "2026-03-02", "--to", "2026-03-03",
                 "--out", str(out), "--tracker-url", tracker_url]) == 0
    html = (out / "index.html").read_text(encoding="utf-8")
    values = _report_values(html)
    expected = {
        "conversations.total": "7", "messages.user": "11", "messages.fallback_rate": str(round(2 / 11, 4)),
        "containment.containment_rate": str(round(4 / 7, 4)), "containment.handoff_rate": str(round(3 / 7, 4)),
        "handoffs.total": "3", "handoffs.avg_wait_seconds": "180.0", "handoffs.avg_first_response_seconds": "180.0",
        "handoffs.avg_resolution_seconds": "900.0", "csat.average": "3.5", "csat.count": "4",
        "conversations.by_channel.web.count": "3", "handoffs.by_reason.complaint.count": "1",
        "faq_topics.faq/authenticity.count": "1", "intents.greet.count": "2",
        "csat.by_agent.小李.average": "4.0", "csat.by_agent.bot.average": "4.0",
        "csat.by_channel.wechat.average": "2.0",
    }
    assert {k: values.get(k) for k in expected} == expected
    assert "57.1%" in html and "你们太坑了" in html
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == sorted(["conversations.png", "channels.png", "hours.png", "intents.png", "faq.png",
                           "handoff_reasons.png", "csat_channel.png", "journeys.png", "regions.png",
                           "complaint_regions.png"])
    for name in pngs:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{name}"' in html
    # the same figures as the dashboard's computation
    assert_figures(report_json(out), BOTH_DAYS)


def report_json(out):
    import json

    return json.loads((out / "metrics.json").read_text(encoding="utf-8"))


def test_trainer_labels_and_exports_rasa_nlu_yaml(shop_engine, tracker_url, tmp_path):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    ingest.ingest_tracker_store(shop_engine, tracker_url)
    new = trainer.misunderstood(shop_engine, "new")
    assert [m["text"] for m in new] == ["呃呃呃", "你们太坑了", "asdf 那个东西呢"]  # newest first
    assert {m["text"]: (m["reason"], m["predicted_intent"]) for m in new} == {
        "呃呃呃": ("fallback", "out_of_scope"), "你们太坑了": ("low_confidence", "complain"),
        "asdf 那个东西呢": ("fallback", "cancel_order")}
    by_text = {m["text"]: m["id"] for m in new}
    trainer.label(shop_engine, by_text["你们太坑了"], "complain", agent_id=None)
    trainer.label(shop_engine, by_text["asdf 那个东西呢"], "faq/authenticity")
    trainer.label(shop_engine, by_text["呃呃呃"], None, ignore=True)
    assert [m["text"] for m in trainer.misunderstood(shop_engine, "new")] == []
    assert "complain" in trainer.known_intents() and "faq/authenticity" in trainer.known_intents()

    out = tmp_path / "labelled.yml"
    assert main(["--database-url", shop_engine.url_text, "export", "--out", str(out), "--mark-exported"]) == 0
    data = RasaYAMLReader().reads(out.read_text(encoding="utf-8"))
    examples = {(m.get("intent"), m.get("text")) for m in data.intent_examples}
    assert examples == {("complain", "你们太坑了"), ("faq", "asdf 那个东西呢")}
    assert {m.get_full_intent() for m in data.intent_examples} == {"complain", "faq/authenticity"}
    assert {m["status"] for m in trainer.misunderstood(shop_engine, "exported")} == {"exported"}
    assert trainer.export(shop_engine) == 'version: "3.1"\nnlu: []\n'  # nothing left to export
    assert "你们太坑了" in trainer.export(shop_engine, include_exported=True)

"""``make simulate-shoppers`` against the real servers: its scripted
shoppers go over the REST channel to Rasa and the action server, their
events land in Rasa's SQL tracker store, the analytics fold them, and each
capability shows what it should: the journeys' furthest steps from real
Rasa events, a VIP routed to the VIP desk, a 12315 complaint escalated to
the complaints group, repeated abuse alerted."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from kefu.analytics import ingest, simulate
from kefu.core.ids import conversation_key
from kefu.store.db import make_engine, migrate, session_scope
from kefu.store.desk import DeskStore
from kefu.store.models import AnalyticsConversation, AnalyticsJourney, DeskAlert
from kefu.store.seed import seed
from tests.conftest import start_kefu

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Servers on a demo shop and a tracker store of their own: the
    simulation's returns, handoffs, alerts and analytics cursor meet no
    other test's."""
    workdir = tmp_path_factory.mktemp("simulate")
    shop_url = f"sqlite:///{workdir / 'shop.db'}"
    migrate(shop_url)
    engine = make_engine(shop_url)
    seed(engine, orders=60)
    engine.dispose()
    kefu = start_kefu(workdir, shop_url, tracker_db=workdir / "tracker.db")
    yield kefu, f"sqlite:///{workdir / 'tracker.db'}", shop_url
    kefu.stop()


def _furthest(engine, sender: str):
    with session_scope(engine) as s:
        return dict(s.execute(
            select(AnalyticsJourney.flow, AnalyticsJourney.furthest)
            .join(AnalyticsConversation, AnalyticsConversation.id == AnalyticsJourney.conversation_id)
            .where(AnalyticsConversation.conversation_key == conversation_key(f"rest:{sender}"))).all())


def test_the_simulated_shoppers_exercise_journeys_routing_and_risk(servers):
    kefu, tracker_url, shop_url = servers
    senders = simulate.run(kefu.rasa_url, quiet=True)
    engine = make_engine(shop_url)
    try:
        _check(engine, tracker_url, senders)
    finally:
        engine.dispose()


def _check(engine, tracker_url: str, senders) -> None:
    assert ingest.ingest_tracker_store(engine, tracker_url) > 0
    by_name = dict(zip([s.name for s in simulate.SHOPPERS], senders, strict=True))
    assert _furthest(engine, by_name["order lookup, answered"]) == {"order_lookup": 3}  # asked, id, proven, answered
    assert _furthest(engine, by_name["order lookup, stops at the digits"]) == {"order_lookup": 1}
    assert _furthest(engine, by_name["order lookup, gives up at once"]) == {"order_lookup": 0}
    assert _furthest(engine, by_name["return, submitted"]) == {"return": 3}  # no photo asked for "尺码偏小"
    assert _furthest(engine, by_name["return, too late"]) == {"return": 0}

    desk = DeskStore(engine)
    vip = desk.active_handoff(f"rest:{by_name['VIP asks for a person']}")
    assert (vip.skill_group, vip.tier, vip.priority) == ("vip", "vip", 1)
    regular = desk.active_handoff(f"rest:{by_name['regular shopper asks for a person']}")
    assert (regular.skill_group, regular.tier, regular.priority) == ("presale", "regular", 0)
    angry = desk.active_handoff(f"rest:{by_name['complaint threatening 12315']}")
    assert angry.skill_group == "complaints" and angry.priority >= 3
    assert "regulator" in angry.summary["risk"]["signals"]
    rude = desk.active_handoff(f"rest:{by_name['keeps insulting the agents']}")
    assert desk.abuse_count(rude.conversation_id) == 3
    with session_scope(engine) as s:
        kinds = {(a.kind, a.handoff_id) for a in s.execute(select(DeskAlert)).scalars()}
    assert ("abuse", rude.id) in kinds and ("escalation", angry.id) in kinds

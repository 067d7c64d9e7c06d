"""A seeded set of conversations whose figures are known in advance.

Seven conversations over two days (UTC), in Rasa's own event format (built
with rasa's event classes), written into a SQL tracker store's ``events``
table; three handoffs, two agents and four ratings in the shop database.

day 1, 2026-03-02
  web:s1      09:10  greet 0.95, check_order_status 0.91            rating 5
  rest:s2     09:40  faq/authenticity 0.92, faq/size_guide 0.88
  telegram:3  10:05  nlu_fallback 0.30 (+ two-stage fallback),
                     request_human 0.97 → handoff requested, 小李      rating 4
  wechat:o4   10:30  complain 0.55 (low) → handoff complaint, 小王     rating 2
  web:s5      11:15  ask_shipping_time/shipping_fee 0.88,
                     out_of_scope 0.80 (+ action_default_fallback)
  mail:m6     14:00  request_return/apply 0.70 → handoff fallback, 小王 (open, unanswered)
day 2, 2026-03-03
  web:s1      08:00  new session: greet 0.99                        rating 3

The channel of a conversation is its id's prefix (kefu.core.ids).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import create_engine, text

from kefu.core.ids import conversation_key
from kefu.store.db import session_scope
from kefu.store.desk import DeskStore
from kefu.store.models import Handoff, SatisfactionRating

DAY1 = datetime(2026, 3, 2, tzinfo=timezone.utc)
DAY2 = datetime(2026, 3, 3, tzinfo=timezone.utc)


def at(day: datetime, hh: int, mm: int, ss: int = 0) -> datetime:
    return day.replace(hour=hh, minute=mm, second=ss)


def _user(t: datetime, said: str, intent: str, confidence: float, channel: str,
          retrieval: Optional[str] = None, ranking: Optional[List[Tuple[str, float]]] = None) -> Dict[str, Any]:
    from rasa.shared.core.events import UserUttered

    parse: Dict[str, Any] = {"intent": {"name": intent, "confidence": confidence}, "entities": [],
                             "intent_ranking": [{"name": n, "confidence": c}
                                                for n, c in (ranking or [(intent, confidence)])]}
    if retrieval:
        parse["response_selector"] = {
            "all_retrieval_intents": ["faq", "ask_shipping_time", "request_return"],
            retrieval.split("/")[0]: {"response": {"intent_response_key": retrieval, "confidence": confidence,
                                                   "responses": [{"text": "..."}],
                                                   "utter_action": f"utter_{retrieval}"},
                                      "ranking": []},
        }
    return UserUttered(said, intent=parse["intent"], parse_data=parse, input_channel=channel,
                       timestamp=t.timestamp()).as_dict()


def _action(t: datetime, name: str) -> Dict[str, Any]:
    from rasa.shared.core.events import ActionExecuted

    return ActionExecuted(name, timestamp=t.timestamp()).as_dict()


def _bot(t: datetime, said: str) -> Dict[str, Any]:
    from rasa.shared.core.events import BotUttered

    return BotUttered(said, timestamp=t.timestamp()).as_dict()


def _session(t: datetime) -> List[Dict[str, Any]]:
    from rasa.shared.core.events import SessionStarted

    return [_action(t, "action_session_start"), SessionStarted(timestamp=t.timestamp() + 0.001).as_dict(),
            _action(t + timedelta(milliseconds=2), "action_listen")]


def _turn(t: datetime, reply_action: str, said: str = "好的") -> List[Dict[str, Any]]:
    return [_action(t + timedelta(milliseconds=500), reply_action), _bot(t + timedelta(milliseconds=600), said),
            _action(t + timedelta(milliseconds=700), "action_listen")]


def day1_events() -> List[Tuple[str, Dict[str, Any]]]:
    """(sender, event) in the order Rasa stored them (conversations interleave)."""
    d = DAY1
    e: List[Tuple[str, Dict[str, Any]]] = []

    def add(sender: str, events: List[Dict[str, Any]]) -> None:
        e.extend((sender, ev) for ev in events)

    add("web:s1", _session(at(d, 9, 10)))
    add("web:s1", [_user(at(d, 9, 10, 1), "你好", "greet", 0.95, "socketio"), *_turn(at(d, 9, 10, 1), "utter_greet")])
    add("web:s1", [_user(at(d, 9, 10, 30), "我的订单到哪了", "check_order_status", 0.91, "socketio"),
                  *_turn(at(d, 9, 10, 30), "order_status_form")])
    add("rest:s2", _session(at(d, 9, 40)))
    add("rest:s2", [_user(at(d, 9, 40, 5), "是正品吗", "faq", 0.92, "rest", "faq/authenticity"),
                  *_turn(at(d, 9, 40, 5), "utter_faq")])
    add("rest:s2", [_user(at(d, 9, 41), "尺码怎么选", "faq", 0.88, "rest", "faq/size_guide"),
                  *_turn(at(d, 9, 41), "utter_faq")])
    add("telegram:3", _session(at(d, 10, 5)))
    add("telegram:3", [_user(at(d, 10, 5, 1), "asdf 那个东西呢", "nlu_fallback", 0.3, "telegram",
                       ranking=[("nlu_fallback", 0.3), ("cancel_order", 0.28), ("greet", 0.1)]),
                 _action(at(d, 10, 5, 2), "action_two_stage_fallback"), _bot(at(d, 10, 5, 2), "您是想取消订单吗？"),
                 _action(at(d, 10, 5, 3), "action_listen")])
    add("wechat:o4", _session(at(d, 10, 30)))
    add("telegram:3", [_user(at(d, 10, 6), "转人工", "request_human", 0.97, "telegram"),
                       *_turn(at(d, 10, 6), "action_handoff")])
    add("wechat:o4", [_user(at(d, 10, 30, 5), "你们太坑了", "complain", 0.55, "wechat",
                       ranking=[("complain", 0.55), ("request_refund", 0.3)]),
                 *_turn(at(d, 10, 30, 5), "action_handoff")])
    add("web:s5", _session(at(d, 11, 15)))
    add("web:s5", [_user(at(d, 11, 15, 5), "运费多少", "ask_shipping_time", 0.88, "socketio",
                         "ask_shipping_time/shipping_fee"),
                  *_turn(at(d, 11, 15, 5), "utter_ask_shipping_time")])
    add("web:s5", [_user(at(d, 11, 16), "呃呃呃", "out_of_scope", 0.8, "socketio"),
                  _action(at(d, 11, 16, 1), "action_default_fallback"), _bot(at(d, 11, 16, 1), "抱歉没听懂"),
                  _action(at(d, 11, 16, 2), "action_listen")])
    add("mail:m6", _session(at(d, 14, 0)))
    add("mail:m6", [_user(at(d, 14, 0, 5), "我要退货", "request_return", 0.7, "email", "request_return/apply"),
                   *_turn(at(d, 14, 0, 5), "action_handoff")])
    return e


def day2_events() -> List[Tuple[str, Dict[str, Any]]]:
    d = DAY2
    events = [*_session(at(d, 8, 0)), _user(at(d, 8, 0, 5), "在吗", "greet", 0.99, "socketio"),
              *_turn(at(d, 8, 0, 5), "utter_greet")]
    return [("web:s1", ev) for ev in events]


def create_tracker_store(url: str) -> None:
    """An empty tracker store with Rasa's own ``events`` table."""
    from rasa.core.tracker_store import SQLTrackerStore

    engine = create_engine(url)
    SQLTrackerStore.SQLEvent.__table__.create(engine, checkfirst=True)
    engine.dispose()


def write_events(url: str, events: List[Tuple[str, Dict[str, Any]]]) -> None:
    """Rows as Rasa's SQLTrackerStore writes them."""
    engine = create_engine(url)
    with engine.begin() as db:
        for sender, event in events:
            intent = (event.get("parse_data") or {}).get("intent", {}).get("name") if event["event"] == "user" else None
            action = event.get("name") if event["event"] == "action" else None
            db.execute(text("INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                            "VALUES (:s, :t, :ts, :i, :a, :d)"),
                       {"s": sender, "t": event["event"], "ts": event["timestamp"], "i": intent, "a": action,
                        "d": json.dumps(event)})
    engine.dispose()


def seed_shop(engine) -> Dict[str, int]:
    """Agents, handoffs and ratings of the seeded conversations; the agents' ids."""
    store = DeskStore(engine)
    li = store.add_agent("an_li", "小李", "correct horse 123")
    wang = store.add_agent("an_wang", "小王", "correct horse 123")

    def naive(t: datetime) -> datetime:
        return t.astimezone(timezone.utc).replace(tzinfo=None)

    s3 = at(DAY1, 10, 6, 5)
    s4 = at(DAY1, 10, 30, 10)
    with session_scope(engine) as s:
        s.add(Handoff(conversation_id="telegram:3", channel="telegram", reason="requested", summary="{}",
                      status="closed", created_at=naive(s3), assigned_at=naive(s3 + timedelta(seconds=60)),
                      first_response_at=naive(s3 + timedelta(seconds=120)),
                      closed_at=naive(s3 + timedelta(seconds=600)), agent_id=li, language="zh"))
        s.add(Handoff(conversation_id="wechat:o4", channel="wechat", reason="complaint", summary="{}", status="closed",
                      created_at=naive(s4), assigned_at=naive(s4 + timedelta(seconds=180)),
                      first_response_at=naive(s4 + timedelta(seconds=240)),
                      closed_at=naive(s4 + timedelta(seconds=1200)), agent_id=wang, language="zh"))
        # still open: assigned after 5 min, not answered yet (a waiting one would be assigned
        # by the desk as soon as an agent logs in)
        s6 = at(DAY1, 14, 1)
        s.add(Handoff(conversation_id="mail:m6", channel="mail", reason="fallback", summary="{}", status="assigned",
                      created_at=naive(s6), assigned_at=naive(s6 + timedelta(seconds=300)), agent_id=wang,
                      language="zh"))
        for sender, channel, score, intent, when in (
            ("web:s1", "web", 5, "check_order_status", at(DAY1, 9, 12)),
            ("telegram:3", "telegram", 4, "request_human", at(DAY1, 10, 20)),
            ("wechat:o4", "wechat", 2, "complain", at(DAY1, 10, 55)),
            ("web:s1", "web", 3, "greet", at(DAY2, 8, 1)),
        ):
            s.add(SatisfactionRating(conversation_key=conversation_key(sender), channel=channel, score=score,
                                     intent=intent, created_at=naive(when)))
    return {"li": li, "wang": wang}


#: the figures over both days
BOTH_DAYS: Dict[str, Any] = {
    "conversations.total": 7,
    "conversations.by_channel": {"web": 3, "rest": 1, "telegram": 1, "wechat": 1, "mail": 1},
    "messages.user": 11,
    "messages.fallback": 2,
    "messages.fallback_rate": round(2 / 11, 4),
    "messages.low_confidence": 2,
    "messages.low_confidence_rate": round(2 / 11, 4),
    "messages.misunderstood": 3,
    "intents": {"greet": 2, "faq": 2, "check_order_status": 1, "nlu_fallback": 1, "request_human": 1,
                "complain": 1, "ask_shipping_time": 1, "out_of_scope": 1, "request_return": 1},
    "faq_topics": {"faq/authenticity": 1, "faq/size_guide": 1, "ask_shipping_time/shipping_fee": 1,
                   "request_return/apply": 1},
    "containment.contained": 4,
    "containment.handed_off": 3,
    "containment.containment_rate": round(4 / 7, 4),
    "containment.handoff_rate": round(3 / 7, 4),
    "handoffs.total": 3,
    "handoffs.by_reason": {"requested": 1, "complaint": 1, "fallback": 1},
    "handoffs.assigned": 3,
    "handoffs.closed": 2,
    "handoffs.avg_wait_seconds": 180.0,
    "handoffs.avg_first_response_seconds": 180.0,
    "handoffs.avg_resolution_seconds": 900.0,
    "csat.count": 4,
    "csat.average": 3.5,
    "csat.by_channel": {"web": (2, 4.0), "telegram": (1, 4.0), "wechat": (1, 2.0)},
    "csat.by_agent": {"bot": (2, 4.0), "小李": (1, 4.0), "小王": (1, 2.0)},
    "csat.by_intent": {"check_order_status": (1, 5.0), "request_human": (1, 4.0), "complain": (1, 2.0),
                       "greet": (1, 3.0)},
    "hours": {"2026-03-02T09:00:00": 2, "2026-03-02T10:00:00": 2, "2026-03-02T11:00:00": 1,
              "2026-03-02T14:00:00": 1, "2026-03-03T08:00:00": 1},
    "misunderstood_top": {"asdf 那个东西呢": "cancel_order", "你们太坑了": "complain", "呃呃呃": "out_of_scope"},
}

#: the figures of day 1 only
DAY1_ONLY: Dict[str, Any] = {
    "conversations.total": 6,
    "conversations.by_channel": {"web": 2, "rest": 1, "telegram": 1, "wechat": 1, "mail": 1},
    "messages.user": 10,
    "messages.fallback_rate": 0.2,
    "containment.containment_rate": 0.5,
    "containment.handoff_rate": 0.5,
    "handoffs.total": 3,
    "csat.count": 3,
    "csat.average": round(11 / 3, 2),
}


def flatten(m: Dict[str, Any]) -> Dict[str, Any]:
    """The computed figures in the shape of BOTH_DAYS / DAY1_ONLY."""
    c = m["conversations"]
    out: Dict[str, Any] = {
        "conversations.total": c["total"],
        "conversations.by_channel": {r["channel"]: r["count"] for r in c["by_channel"]},
        "intents": {r["intent"]: r["count"] for r in m["intents"]},
        "faq_topics": {r["topic"]: r["count"] for r in m["faq_topics"]},
        "handoffs.by_reason": {r["reason"]: r["count"] for r in m["handoffs"]["by_reason"]},
        "hours": {p["t"]: p["count"] for p in c["timeseries"] if p["count"]},
        "misunderstood_top": {r["text"]: r["predicted_intent"] for r in m["misunderstood_top"]},
    }
    for group in ("messages", "containment", "handoffs", "csat"):
        for key, value in m[group].items():
            if not isinstance(value, (list, dict)):
                out[f"{group}.{key}"] = value
    for key in ("by_channel", "by_agent", "by_intent"):
        out[f"csat.{key}"] = {r["key"]: (r["count"], r["average"]) for r in m["csat"][key]}
    return out


def assert_figures(computed: Dict[str, Any], expected: Dict[str, Any]) -> None:
    flat = flatten(computed)
    wrong = {k: (flat.get(k), v) for k, v in expected.items() if flat.get(k) != v}
    assert not wrong, f"(computed, expected): {wrong}"

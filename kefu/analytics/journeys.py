"""Service journeys (咨询轨迹): how far shoppers get through a flow, where
they drop off, and what they said there.

A flow is a list of steps, each recognised in the conversation's events:
the shopper's intent, a slot the dialogue set (or asked for), or a response
the bot gave (Rasa keeps its name in the bot event's ``utter_action``). A
journey starts at the flow's first step and records the furthest step it
reached, so the funnel counts journeys that reached a step *or a later
one* (a Telegram shopper the platform vouches for proves no order, a
"changed my mind" return sends no photo). The shopper's latest words in
the journey are kept, anonymised and masked, as the example of where they
stopped. One journey per flow and conversation.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.store.models import AnalyticsJourney

EXAMPLES_PER_STEP = 3


@dataclass(frozen=True)
class Step:
    code: str
    zh: str
    en: str
    kind: str  # intent | slot | asked | said
    name: str  # the intent, slot or response


@dataclass(frozen=True)
class Flow:
    code: str
    zh: str
    en: str
    steps: Tuple[Step, ...]


FLOWS: Tuple[Flow, ...] = (
    Flow("order_lookup", "查订单", "order lookup", (
        Step("asked", "询问", "asked", "intent", "check_order_status"),
        Step("order_id", "给出订单号", "order id given", "slot", "order_id"),
        Step("proven", "验证通过", "proven", "slot", "verified_order"),
        Step("answered", "已答复", "answered", "said", "utter_order_status"),
        Step("rated", "已评价", "rated", "said", "utter_thanks_for_rating"),
    )),
    Flow("return", "退货", "return", (
        Step("asked", "询问", "asked", "intent", "request_return"),
        Step("eligible", "符合条件", "eligible", "asked", "aftersale_reason"),
        Step("photos", "上传照片", "photos", "intent", "send_photo"),
        Step("submitted", "已提交", "submitted", "said", "utter_aftersale_created"),
    )),
)


def _matches(step: Step, event: Dict[str, Any]) -> bool:
    kind = event.get("event")
    if step.kind == "intent":
        return kind == "user" and ((event.get("parse_data") or {}).get("intent") or {}).get("name") == step.name
    if step.kind == "slot":
        return kind == "slot" and event.get("name") == step.name and event.get("value") not in (None, "", [])
    if step.kind == "asked":
        return kind == "slot" and event.get("name") == "requested_slot" and event.get("value") == step.name
    return kind == "bot" and (event.get("metadata") or {}).get("utter_action") == step.name


def fold(s: Session, conversation_id: int, event: Dict[str, Any], when: datetime, text: Optional[str]) -> None:
    """Advance this conversation's journeys with one event; ``text`` is the
    stored (anonymised, masked) text of a user event, kept as the example."""
    for flow in FLOWS:
        reached = next((i for i, step in enumerate(flow.steps) if _matches(step, event)), None)
        journey = s.execute(select(AnalyticsJourney).where(
            AnalyticsJourney.conversation_id == conversation_id, AnalyticsJourney.flow == flow.code)
        ).scalar_one_or_none()
        if journey is None:
            if reached != 0:
                continue
            journey = AnalyticsJourney(conversation_id=conversation_id, flow=flow.code, started_at=when,
                                       furthest=0, updated_at=when)
            s.add(journey)
        elif reached is not None and reached > journey.furthest:
            journey.furthest = reached
            journey.updated_at = max(journey.updated_at, when)
        if text and journey.furthest < len(flow.steps) - 1:
            journey.last_text = text[:500]
    s.flush()


def funnels(s: Session, start: datetime, end: datetime) -> List[Dict[str, Any]]:
    """Per flow: each step with the journeys that reached it (or later), the
    drop-off (journeys that stopped there) and examples of what they said."""
    out = []
    for flow in FLOWS:
        rows = s.execute(select(AnalyticsJourney.furthest, AnalyticsJourney.last_text).where(
            AnalyticsJourney.flow == flow.code, AnalyticsJourney.started_at >= start,
            AnalyticsJourney.started_at < end).order_by(AnalyticsJourney.updated_at.desc())).all()
        steps = []
        for i, step in enumerate(flow.steps):
            reached = sum(1 for furthest, _ in rows if furthest >= i)
            stopped = [text for furthest, text in rows if furthest == i]
            last = i == len(flow.steps) - 1
            steps.append({"step": step.code, "zh": step.zh, "en": step.en, "reached": reached,
                          "dropped": 0 if last else len(stopped),
                          "examples": [] if last else [t for t in stopped if t][:EXAMPLES_PER_STEP]})
        started = len(rows)
        done = sum(1 for furthest, _ in rows if furthest >= len(flow.steps) - 1)
        out.append({"flow": flow.code, "zh": flow.zh, "en": flow.en, "started": started,
                    "completed": done, "completion": round(done / started, 4) if started else None, "steps": steps})
    return out

"""The service figures over a date range [start, end) (naive UTC), as one
JSON-able dict: the dashboard's API, the report and the tests read the same.

Conversations are counted by when they started (their first user message's
session); messages by when they were sent; handoffs by when they were queued;
ratings by when they were given. A conversation is *handed off* when its
sender has a handoff queued between its start and the next conversation's
start; *contained* otherwise (resolved without a human).
"""
from __future__ import annotations

import bisect
import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any, Dict, Iterable, List, Optional, Tuple

from sqlalchemy import select
from sqlalchemy.engine import Engine

from kefu.analytics import journeys, regions
from kefu.core.ids import conversation_key
from kefu.store.db import session_scope
from kefu.store.desk.assist import acceptance
from kefu.store.models import (
    Agent,
    AnalyticsConversation,
    AnalyticsTurn,
    Handoff,
    MisunderstoodMessage,
    SatisfactionRating,
    Ticket,
)

TOP_MISUNDERSTOOD = 10
BOT = "bot"


def day_range(first: date, last: date) -> Tuple[datetime, datetime]:
    """[first 00:00, the day after last 00:00): a date-range filter, both days included."""
    return datetime.combine(first, time()), datetime.combine(last + timedelta(days=1), time())


def _rate(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 4) if whole else None


def _avg(values: List[float]) -> Optional[float]:
    return round(sum(values) / len(values), 1) if values else None


def _median(values: List[float]) -> Optional[float]:
    return round(statistics.median(values), 1) if values else None


def _counted(counter: Counter, key: str) -> List[Dict[str, Any]]:
    return [{key: k, "count": n} for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))]


def _scores(groups: Dict[str, List[int]]) -> List[Dict[str, Any]]:
    rows = [{"key": k, "count": len(v), "average": round(sum(v) / len(v), 2)} for k, v in groups.items()]
    return sorted(rows, key=lambda r: (-r["count"], r["key"]))


def _buckets(start: datetime, end: datetime, stamps: Iterable[datetime]) -> Tuple[str, List[Dict[str, Any]]]:
    """Counts per hour for ranges up to 3 days, else per day, every bucket listed."""
    hourly = end - start <= timedelta(days=3)
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    counts: Counter = Counter()
    for t in stamps:
        counts[t.replace(minute=0, second=0, microsecond=0) if hourly else datetime.combine(t.date(), time())] += 1
    series: List[Dict[str, Any]] = []
    t = start
    while t < end and len(series) < 24 * 400:
        series.append({"t": t.isoformat(), "count": counts.get(t, 0)})
        t += step
    return ("hour" if hourly else "day"), series


def compute(engine: Engine, start: datetime, end: datetime) -> Dict[str, Any]:
    with session_scope(engine) as s:
        conversations = s.execute(
            select(AnalyticsConversation.id, AnalyticsConversation.conversation_key, AnalyticsConversation.channel,
                   AnalyticsConversation.started_at)
            .where(AnalyticsConversation.started_at >= start, AnalyticsConversation.started_at < end,
                   AnalyticsConversation.user_messages > 0)
        ).all()
        senders = {c.conversation_key for c in conversations}
        # every conversation start of those senders (also outside the range), to bound each conversation
        starts: Dict[str, List[datetime]] = defaultdict(list)
        if senders:
            for sender, started in s.execute(
                select(AnalyticsConversation.conversation_key, AnalyticsConversation.started_at)
                .where(AnalyticsConversation.conversation_key.in_(senders), AnalyticsConversation.user_messages > 0)
            ).all():
                starts[sender].append(started)
        turns = s.execute(
            select(AnalyticsTurn.intent, AnalyticsTurn.retrieval_intent, AnalyticsTurn.fallback,
                   AnalyticsTurn.low_confidence)
            .where(AnalyticsTurn.created_at >= start, AnalyticsTurn.created_at < end)
        ).all()
        misunderstood = s.execute(
            select(MisunderstoodMessage.text, MisunderstoodMessage.predicted_intent, MisunderstoodMessage.reason)
            .where(MisunderstoodMessage.created_at >= start, MisunderstoodMessage.created_at < end)
        ).all()
        handoffs = s.execute(
            select(Handoff.conversation_id, Handoff.channel, Handoff.reason, Handoff.status, Handoff.created_at,
                   Handoff.assigned_at, Handoff.first_response_at, Handoff.closed_at)
            .where(Handoff.created_at >= start, Handoff.created_at < end)
        ).all()
        # handoffs of the range's senders (a conversation may start before its handoff's day);
        # the desk keeps conversation ids, analytics their keyed hashes
        sender_handoffs: Dict[str, List[datetime]] = defaultdict(list)
        agent_of_key: Dict[str, List[Tuple[datetime, Optional[int]]]] = defaultdict(list)
        for cid, created, agent_id in s.execute(select(Handoff.conversation_id, Handoff.created_at,
                                                       Handoff.agent_id)).all():
            key = conversation_key(cid)
            if key in senders:
                sender_handoffs[key].append(created)
            agent_of_key[key].append((created, agent_id))
        ratings = s.execute(
            select(SatisfactionRating.conversation_key, SatisfactionRating.channel, SatisfactionRating.score,
                   SatisfactionRating.intent, SatisfactionRating.created_at)
            .where(SatisfactionRating.created_at >= start, SatisfactionRating.created_at < end)
        ).all()
        names = dict(s.execute(select(Agent.id, Agent.display_name)).all())
        suggestions = acceptance(s, start, end)
        flows = journeys.funnels(s, start, end)
        regional = regions.by_province(s, start, end)
        complaint_rows = s.execute(
            select(Ticket.complaint_category).where(Ticket.category == "complaint", Ticket.created_at >= start,
                                                    Ticket.created_at < end)).scalars().all()

    # conversations
    by_channel = Counter(c.channel or "unknown" for c in conversations)
    bucket, series = _buckets(start, end, (c.started_at for c in conversations))
    hour_of_day = [0] * 24
    for c in conversations:
        hour_of_day[c.started_at.hour] += 1

    handed_off = 0
    for c in conversations:
        bounds = sorted(starts[c.conversation_key])
        i = bisect.bisect_right(bounds, c.started_at)
        until = bounds[i] if i < len(bounds) else datetime.max
        if any(c.started_at <= h < until for h in sender_handoffs.get(c.conversation_key, ())):
            handed_off += 1
    total = len(conversations)

    # messages
    user = len(turns)
    fallback = sum(1 for t in turns if t.fallback)
    low = sum(1 for t in turns if t.low_confidence)
    intents = Counter(t.intent or "unknown" for t in turns)
    topics = Counter(t.retrieval_intent for t in turns if t.retrieval_intent)
    texts: Dict[str, Counter] = defaultdict(Counter)
    for m in misunderstood:
        texts[" ".join((m.text or "").split())][m.predicted_intent or ""] += 1
    top = sorted(((t, sum(c.values()), c.most_common(1)[0][0] or None) for t, c in texts.items()),
                 key=lambda x: (-x[1], x[0]))[:TOP_MISUNDERSTOOD]

    # handoffs
    waits = [(h.assigned_at - h.created_at).total_seconds() for h in handoffs if h.assigned_at]
    firsts = [(h.first_response_at - h.created_at).total_seconds() for h in handoffs if h.first_response_at]
    resolutions = [(h.closed_at - h.created_at).total_seconds() for h in handoffs if h.closed_at]

    # satisfaction
    per_channel: Dict[str, List[int]] = defaultdict(list)
    per_agent: Dict[str, List[int]] = defaultdict(list)
    per_intent: Dict[str, List[int]] = defaultdict(list)
    per_handling: Dict[str, List[int]] = defaultdict(list)  # bot_only | agent
    distribution = {str(k): 0 for k in range(1, 6)}
    for r in ratings:
        per_channel[r.channel or "unknown"].append(r.score)
        per_intent[r.intent or "unknown"].append(r.score)
        before = [(created, agent) for created, agent in agent_of_key.get(r.conversation_key, ())
                  if created <= r.created_at]
        agent_id = max(before, key=lambda x: x[0])[1] if before else None
        per_agent[names.get(agent_id, f"agent {agent_id}") if agent_id is not None else BOT].append(r.score)
        per_handling["agent" if agent_id is not None else "bot_only"].append(r.score)
        if str(r.score) in distribution:
            distribution[str(r.score)] += 1
    scores = [r.score for r in ratings]

    return {
        "range": {"from": start.isoformat(), "to": end.isoformat()},
        "conversations": {
            "total": total,
            "by_channel": _counted(by_channel, "channel"),
            "bucket": bucket,
            "timeseries": series,
            "hour_of_day": hour_of_day,
        },
        "messages": {
            "user": user,
            "fallback": fallback,
            "fallback_rate": _rate(fallback, user),
            "low_confidence": low,
            "low_confidence_rate": _rate(low, user),
            "misunderstood": len(misunderstood),
        },
        "intents": _counted(intents, "intent"),
        "faq_topics": _counted(topics, "topic"),
        "containment": {
            "contained": total - handed_off,
            "handed_off": handed_off,
            "containment_rate": _rate(total - handed_off, total),
            "handoff_rate": _rate(handed_off, total),
        },
        "handoffs": {
            "total": len(handoffs),
            "by_reason": _counted(Counter(h.reason for h in handoffs), "reason"),
            "by_channel": _counted(Counter(h.channel for h in handoffs), "channel"),
            "assigned": len(waits),
            "closed": len(resolutions),
            "avg_wait_seconds": _avg(waits),
            "median_wait_seconds": _median(waits),
            "avg_first_response_seconds": _avg(firsts),
            "median_first_response_seconds": _median(firsts),
            "avg_resolution_seconds": _avg(resolutions),
            "median_resolution_seconds": _median(resolutions),
        },
        "csat": {
            "count": len(scores),
            "average": round(sum(scores) / len(scores), 2) if scores else None,
            "distribution": distribution,
            "by_channel": _scores(per_channel),
            "by_agent": _scores(per_agent),
            "by_intent": _scores(per_intent),
            # conversations the bot handled alone, and those an agent took
            "by_handling": _scores(per_handling),
        },
        "misunderstood_top": [{"text": t, "count": n, "predicted_intent": i} for t, n, i in top],
        # the desk's suggested replies: acceptance per intent (kefu/desk/assist.py)
        "assist": suggestions,
        # complaints by category (kefu/risk/complaints.py), most first
        "complaints": _counted(Counter(c or "other" for c in complaint_rows), "category"),
        # service journeys: funnels per flow with drop-off and examples (kefu/analytics/journeys.py)
        "journeys": flows,
        # orders and complaints per province, from the delivery addresses (kefu/analytics/regions.py)
        "regions": regional,
    }

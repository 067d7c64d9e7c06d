"""Fold Rasa events, one at a time and in order per sender, into the
analytics tables. Both sources (the SQL tracker store and the event broker)
call :func:`apply_event`, so they produce the same rows.

* ``session_started`` opens a new conversation for the sender (Rasa starts a
  session on the first message and after the session expires);
* ``user`` adds a turn (intent, retrieval sub-intent, confidence, channel);
  it is *fallback* when the intent is ``nlu_fallback`` and *low confidence*
  below :data:`LOW_CONFIDENCE`; either makes it a misunderstood message;
* ``action`` ``action_default_fallback`` / ``action_two_stage_fallback``
  marks the sender's latest turn as fallback (and misunderstood).

A user event already folded (same sender and timestamp, e.g. a message the
broker delivered twice) is ignored.

Nothing here is stored in clear that could name a shopper: the sender is a
keyed hash (``kefu.core.ids.conversation_key``, the same key tickets and
ratings carry) and a text keeps its words but not its phone numbers,
e-mails, order ids, ID numbers or addresses (``kefu.core.privacy.anonymise``).
The channel is the conversation id's prefix, decided by the connector.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.analytics import journeys
from kefu.core import ids
from kefu.core import text as texts
from kefu.core.privacy import anonymise
from kefu.risk import words as risk_words
from kefu.store.models import AnalyticsConversation, AnalyticsTurn, MisunderstoodMessage

LOW_CONFIDENCE = 0.6
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = frozenset({"action_default_fallback", "action_two_stage_fallback"})
_MAX_TEXT = 2000


def channel_name(sender_id: str) -> Optional[str]:
    """The channel of a conversation, from its id (kefu.core.ids)."""
    identity = ids.parse(sender_id)
    return identity.channel if identity else None


def stored_text(text: Optional[str]) -> str:
    """A message as analytics keeps it: personal data replaced, abusive
    words masked (risk.yml), and nothing a database could refuse (a lone
    surrogate once stopped the ingestion for good)."""
    return risk_words.mask(anonymise(texts.storable(text)))[:_MAX_TEXT]


def event_datetime(timestamp: Any) -> datetime:
    """Rasa's float epoch seconds -> naive UTC (how the store keeps times)."""
    return datetime.fromtimestamp(float(timestamp or 0), tz=timezone.utc).replace(tzinfo=None)


def _micros(timestamp: Any) -> int:
    return int(round(float(timestamp or 0) * 1_000_000))


def retrieval_intent(parse_data: Dict[str, Any]) -> Optional[str]:
    """``faq/returns``: the response selector's pick for the retrieval intent."""
    intent = parse_data.get("intent") or {}
    if intent.get("full_retrieval_intent_name"):
        return str(intent["full_retrieval_intent_name"])
    selectors = parse_data.get("response_selector") or {}
    name = intent.get("name")
    for key in (name, "default"):
        selected = selectors.get(key) if key else None
        if isinstance(selected, dict):
            response = selected.get("response") or {}
            full = response.get("intent_response_key") or response.get("full_retrieval_intent_name")
            if full and (key == name or str(full).split("/", 1)[0] == name):
                return str(full)
    return None


def best_guess(parse_data: Dict[str, Any]) -> Optional[str]:
    """The intent the NLU thought most likely, skipping ``nlu_fallback``."""
    ranking = parse_data.get("intent_ranking") or []
    for entry in ranking:
        if entry.get("name") and entry.get("name") != FALLBACK_INTENT:
            return str(entry["name"])
    name = (parse_data.get("intent") or {}).get("name")
    return name if name != FALLBACK_INTENT else None


class _Folder:
    def __init__(self, session: Session) -> None:
        self.s = session

    def latest_conversation(self, sender_id: str) -> Optional[AnalyticsConversation]:
        return self.s.execute(
            select(AnalyticsConversation)
            .where(AnalyticsConversation.conversation_key == ids.conversation_key(sender_id))
            .order_by(AnalyticsConversation.started_at.desc(), AnalyticsConversation.id.desc()).limit(1)
        ).scalar_one_or_none()

    def new_conversation(self, sender_id: str, when: datetime) -> AnalyticsConversation:
        conversation = AnalyticsConversation(conversation_key=ids.conversation_key(sender_id),
                                             channel=channel_name(sender_id),
                                             started_at=when, last_event_at=when, user_messages=0)
        self.s.add(conversation)
        self.s.flush()
        return conversation

    def session_started(self, sender_id: str, when: datetime) -> None:
        latest = self.latest_conversation(sender_id)
        if latest is not None and latest.user_messages == 0:
            # an empty session (e.g. action_session_start run twice): reuse it
            latest.started_at = latest.last_event_at = when
            return
        if latest is not None and latest.started_at >= when:
            return  # already seen (the broker redelivered an older event)
        self.new_conversation(sender_id, when)

    def user(self, sender_id: str, event: Dict[str, Any]) -> None:
        micros = _micros(event.get("timestamp"))
        key = ids.conversation_key(sender_id)
        seen = self.s.execute(select(AnalyticsTurn.id).where(AnalyticsTurn.conversation_key == key,
                                                            AnalyticsTurn.event_time == micros)).first()
        if seen:
            return
        when = event_datetime(event.get("timestamp"))
        conversation = self.latest_conversation(sender_id) or self.new_conversation(sender_id, when)
        parse = event.get("parse_data") or {}
        intent = (parse.get("intent") or {}).get("name")
        confidence = (parse.get("intent") or {}).get("confidence")
        confidence = float(confidence) if confidence is not None else None
        channel = channel_name(sender_id)
        fallback = intent == FALLBACK_INTENT
        low = confidence is not None and confidence < LOW_CONFIDENCE
        turn = AnalyticsTurn(
            conversation_id=conversation.id, conversation_key=key, event_time=micros, created_at=when,
            channel=channel, text=stored_text(event.get("text")), intent=intent,
            retrieval_intent=retrieval_intent(parse), confidence=confidence, fallback=fallback,
            low_confidence=low,
        )
        self.s.add(turn)
        self.s.flush()
        conversation.user_messages = (conversation.user_messages or 0) + 1
        conversation.last_event_at = max(conversation.last_event_at, when)
        if conversation.channel is None and channel:
            conversation.channel = channel
        if fallback or low:
            self.misunderstood(turn, parse, "fallback" if fallback else "low_confidence")
        journeys.fold(self.s, conversation.id, event, when, turn.text)

    def step(self, sender_id: str, event: Dict[str, Any], when: datetime) -> bool:
        """A slot or a bot message may advance a journey of the sender's
        latest conversation (kefu/analytics/journeys.py)."""
        conversation = self.latest_conversation(sender_id)
        if conversation is None:
            return False
        journeys.fold(self.s, conversation.id, event, when, None)
        return True

    def fallback_action(self, sender_id: str, when: datetime) -> None:
        turn = self.s.execute(
            select(AnalyticsTurn).where(AnalyticsTurn.conversation_key == ids.conversation_key(sender_id),
                                        AnalyticsTurn.created_at <= when)
            .order_by(AnalyticsTurn.event_time.desc()).limit(1)
        ).scalar_one_or_none()
        if turn is None:
            return
        turn.fallback = True
        existing = self.s.execute(select(MisunderstoodMessage).where(MisunderstoodMessage.turn_id == turn.id)
                                  ).scalar_one_or_none()
        if existing is None:
            self.misunderstood(turn, {"intent": {"name": turn.intent}}, "fallback")
        else:
            existing.reason = "fallback"

    def misunderstood(self, turn: AnalyticsTurn, parse: Dict[str, Any], reason: str) -> None:
        if not (turn.text or "").strip():
            return
        self.s.add(MisunderstoodMessage(
            turn_id=turn.id, text=turn.text, predicted_intent=best_guess(parse), confidence=turn.confidence,
            reason=reason, channel=turn.channel, created_at=turn.created_at, status="new",
        ))
        self.s.flush()


def apply_event(session: Session, event: Dict[str, Any], sender_id: Optional[str] = None) -> bool:
    """Fold one event (Rasa's JSON form; ``sender_id`` in it, as the broker
    sends it, or given). Whether it changed anything we count."""
    sender = sender_id or event.get("sender_id")
    kind = event.get("event")
    if not sender or not kind:
        return False
    folder = _Folder(session)
    when = event_datetime(event.get("timestamp"))
    if kind == "session_started":
        folder.session_started(str(sender), when)
    elif kind == "user":
        folder.user(str(sender), event)
    elif kind == "action" and event.get("name") in FALLBACK_ACTIONS:
        folder.fallback_action(str(sender), when)
    elif kind in ("slot", "bot"):
        return folder.step(str(sender), event, when)
    else:
        return False
    return True

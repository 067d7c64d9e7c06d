"""Suggested replies for the agent holding a chat (agent assist).

Kefu already understood the shopper's latest message: Rasa parsed it into
the tracker (intent, and for a retrieval intent the ranked answers of its
response selector) even while a person has the chat. The suggestions come
from there and from the shop, with no outside service:

* ``answer``: the answers the bot would give (the top topics of the
  response selector, in the shopper's language);
* ``order``: the facts of an order the conversation proved (or of a vouched
  customer's order in the conversation), status and latest tracking;
* ``canned``: the canned replies whose words are closest to the message.

Each suggestion is offered for editing; what the agent sends is recorded as
used, edited or ignored (``DeskStore.record_assist``), per intent, for the
dashboard.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

from kefu.core import ids, responses
from kefu.core.clock import utcnow
from kefu.core.labels import china_time, label, phrase
from kefu.core.similarity import char_pairs, jaccard
from kefu.store.desk.views import CannedView
from kefu.store.shop import ShopStore

#: below this the selector's second answer is not worth the agent's glance
MIN_ANSWER_CONFIDENCE = 0.2
ANSWERS, CANNED = 2, 2


@dataclass(frozen=True)
class Suggestion:
    id: str  # <kind>:<what>, stable for the message
    kind: str  # answer | order | canned
    title: str
    text: str


@dataclass(frozen=True)
class Suggestions:
    message: Optional[str]  # the shopper's message they answer
    intent: Optional[str]  # what the model understood of it
    confidence: Optional[float]
    language: str
    items: Sequence[Suggestion]

    def as_json(self) -> Dict[str, Any]:
        return {"message": self.message, "intent": self.intent, "confidence": self.confidence,
                "language": self.language, "suggestions": [asdict(i) for i in self.items]}


def latest_message(events: Sequence[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
    """The shopper's last typed message (a connector's ``/send_photo`` is no
    question to answer)."""
    for event in reversed(events):
        text = str(event.get("text") or "").strip()
        if event.get("event") == "user" and text and not text.startswith("/"):
            return event
    return None


def answers(parse_data: Mapping[str, Any], lang: str) -> List[Suggestion]:
    intent = (parse_data.get("intent") or {}).get("name")
    selected = (parse_data.get("response_selector") or {}).get(intent) or {}
    found: List[Suggestion] = []
    for entry in selected.get("ranking") or []:
        key, confidence = entry.get("intent_response_key"), float(entry.get("confidence") or 0)
        if found and confidence < MIN_ANSWER_CONFIDENCE:
            break
        text = responses.answer(str(key), lang) if key else None
        if text:
            found.append(Suggestion(f"answer:{key}", "answer", f"{key} · {confidence:.0%}", text))
        if len(found) == ANSWERS:
            break
    return found


def order_fact(slots: Mapping[str, Any], customer_id: Optional[int], shop: ShopStore, lang: str,
               ttl_seconds: float) -> List[Suggestion]:
    """The order the conversation may see (a live proof, or the vouched
    customer's order in the ``order_id`` slot), as a sentence to send."""
    order_id = ids.proven_order(slots.get("verified_order"), slots.get("verified_at"), ttl_seconds,
                                utcnow().timestamp())
    if order_id is None and customer_id is not None and slots.get("order_id"):
        candidate = str(slots["order_id"])
        order_id = candidate if shop.order_belongs_to(candidate, customer_id) else None
    order = shop.get_order(order_id) if order_id else None
    if order is None:
        return []
    tracking = shop.tracking(order.id)
    latest = tracking.events[-1] if tracking and tracking.events else None
    moved = phrase("utter_part_suggest_tracking", lang,
                   event=latest.description_en if lang == "en" else latest.description_zh,
                   time=china_time(latest.time)) if latest else ""
    text = phrase("utter_suggest_order", lang, order_id=order.id, status=label(order.status, lang), tracking=moved)
    return [Suggestion(f"order:{order.id}", "order", order.id, text)]


def closest_canned(message: str, canned: Sequence[CannedView], lang: str) -> List[Suggestion]:
    """The canned replies sharing the most character pairs with the message
    (Jaccard), title included; none that share nothing."""
    asked = char_pairs(message)
    scored = []
    for reply in canned:
        overlap = jaccard(asked, char_pairs(f"{reply.title} {reply.text(lang)}"))
        if overlap > 0:
            scored.append((overlap, reply.id, reply))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return [Suggestion(f"canned:{r.id}", "canned", r.title, r.text(lang)) for _, _, r in scored[:CANNED]]


def suggest(tracker: Mapping[str, Any], customer_id: Optional[int], canned: Sequence[CannedView],
            shop: ShopStore, ttl_seconds: float) -> Suggestions:
    """The suggestions for the shopper's latest message of ``tracker``
    (Rasa's tracker JSON), in the conversation's language."""
    slots = tracker.get("slots") or {}
    lang = "en" if slots.get("language") == "en" else "zh"
    message = latest_message(tracker.get("events") or [])
    if message is None:
        return Suggestions(None, None, None, lang, [])
    parse = message.get("parse_data") or {}
    intent = parse.get("intent") or {}
    items = [*answers(parse, lang), *order_fact(slots, customer_id, shop, lang, ttl_seconds),
             *closest_canned(str(message.get("text") or ""), canned, lang)]
    return Suggestions(str(message.get("text")), intent.get("name"), intent.get("confidence"), lang, items)


def outcome(sent: str, chosen: Optional[str]) -> str:
    """What the agent did with the suggestion ``chosen`` they inserted
    (None: none): sent it unchanged, edited it, or wrote their own."""
    if chosen is None:
        return "ignored"
    return "used" if " ".join(sent.split()) == " ".join(chosen.split()) else "edited"

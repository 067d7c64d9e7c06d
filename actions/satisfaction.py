"""The 1-5 satisfaction rating (满意度评价) asked after a finished flow.

Not a form: a shopper who ignores the question and asks something else
must simply be answered, so the rating is whatever message follows
`utter_ask_rating`, if it holds a score."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import backend_guard, channel_of, conversation_key, store, within_limits
from kefu.core.privacy import redact
from kefu.store.limits import RATINGS_PER_CLIENT, RATINGS_PER_CONVERSATION

_WORDS = {
    "非常满意": 5, "很满意": 5, "超级满意": 5, "excellent": 5, "great": 5, "perfect": 5,
    "满意": 4, "不错": 4, "good": 4,
    "一般": 3, "还行": 3, "ok": 3, "okay": 3, "average": 3,
    "非常不满意": 1, "很差": 1, "terrible": 1, "awful": 1, "very poor": 1,
    "不满意": 2, "差": 2, "poor": 2, "bad": 2,
}
_SKIP = {"没有", "没了", "无", "不用", "不用了", "没", "跳过", "no", "nope", "none", "skip", "no thanks", "nothing"}


def parse_rating(text: str) -> Optional[int]:
    """'5', '4分', '五星', '非常满意', 'good' -> 1..5; anything else None."""
    text = (text or "").strip().lower()
    digits = re.findall(r"(?<!\d)[1-5](?!\d)", text)
    if len(digits) == 1:
        return int(digits[0])
    for zh, value in (("五", 5), ("四", 4), ("三", 3), ("二", 2), ("两", 2), ("一", 1)):
        if re.search(zh + r"\s*[星分颗]", text):
            return value
    for word in sorted(_WORDS, key=len, reverse=True):
        if word in text:
            return _WORDS[word]
    return None


def split_rating(text: str, entity_score: Optional[str]) -> Tuple[Optional[int], Optional[str]]:
    """Score and optional comment from one message: a button's entity, or
    free text such as '4分 物流有点慢' (score 4, comment '物流有点慢')."""
    if entity_score and str(entity_score).strip() in {"1", "2", "3", "4", "5"}:
        return int(entity_score), None
    score = parse_rating(text)
    if score is None:
        return None, None
    comment = re.sub(r"^\s*[1-5一二两三四五]\s*(分|星|颗星|stars?|/5)?[\s,，。.!！~]*", "", text.strip(), flags=re.I)
    comment = " ".join(comment.split())
    if not comment or comment == text.strip() or comment.lower() in _SKIP:
        return score, None
    return score, comment


class ActionSaveRating(Action):
    """Store the answer to `utter_ask_rating`. Anything that is not a rating
    is taken as 'no rating' rather than asked again: the shopper owes us
    nothing."""

    def name(self) -> Text:
        return "action_save_rating"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        entity = next(
            (e.get("value") for e in tracker.latest_message.get("entities", []) if e.get("entity") == "rating"),
            None,
        )
        score, comment = split_rating(tracker.latest_message.get("text") or "", entity)
        if score is None:
            dispatcher.utter_message(response="utter_anything_else")
            return [SlotSet("rating", None)]
        if not within_limits(tracker, RATINGS_PER_CONVERSATION, RATINGS_PER_CLIENT):
            dispatcher.utter_message(response="utter_thanks_for_rating")  # not counted, and no reason to say so
            return [SlotSet("rating", None)]
        store().record_rating(
            conversation_key=conversation_key(tracker),
            channel=channel_of(tracker),
            score=score,
            comment=redact(comment[:1000]) if comment else None,
            intent=_rated_intent(tracker),
        )
        dispatcher.utter_message(response="utter_thanks_for_rating")
        return [SlotSet("rating", None)]


def _rated_intent(tracker: Tracker) -> Optional[str]:
    """The intent of the flow being rated: the last substantive one."""
    skip = {"inform", "affirm", "deny", "thanks", "goodbye", "greet", "nlu_fallback"}
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            name = (event.get("parse_data") or {}).get("intent", {}).get("name")
            if name and name not in skip:
                return name
    return None

"""Photos as evidence in the after-sale and complaint forms.

A connector keeps a photo (kefu/evidence/intake.py) and says ``send_photo``;
the ``photos`` slot of the form then reads "received", "done" (affirm: 好了)
or "skipped" (deny: 跳过), or, when the model was unsure of a short answer,
the text itself, which :func:`kefu.evidence.reasons.photo_answer` reads.
Counting what waits is the store's business, so a photo sent twice, or on
another message, is counted once.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import backend_guard, evidence
from kefu.core.config import load_settings
from kefu.evidence.reasons import photo_answer

PHOTOS_SLOT = "photos"
#: the responses that ask for photos (domain.yml)
_ASKING = ("utter_ask_photos", "utter_photos_not_understood")


def validate_photos(slot_value: Any, tracker: Tracker) -> Dict[Text, Any]:
    """A photo keeps the form asking (the shopper may send more) until as
    many as a request takes have come; "done" needs at least one photo."""
    waiting = evidence().waiting_count(tracker.sender_id)
    if slot_value not in ("received", "done", "skipped"):
        slot_value = photo_answer(str(slot_value or ""))
    if slot_value == "skipped":
        return {PHOTOS_SLOT: "skipped"}
    if slot_value == "done" and waiting:
        return {PHOTOS_SLOT: "done"}
    if slot_value == "received" and waiting >= load_settings().evidence.max_photos:
        return {PHOTOS_SLOT: "done"}
    return {PHOTOS_SLOT: None}


class ActionAskPhotos(Action):
    """Ask for photos, or say how many came and that more may follow."""

    def name(self) -> Text:
        return "action_ask_photos"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        waiting = evidence().waiting_count(tracker.sender_id)
        if waiting:
            dispatcher.utter_message(response="utter_photos_received", count=waiting)
        elif _asked_just_before(tracker):  # an answer that was neither a photo nor done/skip
            dispatcher.utter_message(response="utter_photos_not_understood")
        else:
            dispatcher.utter_message(response="utter_ask_photos", max_photos=load_settings().evidence.max_photos)
        return []


def _asked_just_before(tracker: Tracker) -> bool:
    """Whether the bot's last words before the shopper's latest message
    asked for photos: then asking the same again would not help them. (A
    form runs its ask action without logging it, so the words tell.)"""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return False
            seen_user = True
        elif seen_user and event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action") in _ASKING
    return False

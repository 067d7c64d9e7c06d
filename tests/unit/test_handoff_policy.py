"""The handoff policy's choice, on Rasa's own trackers: a blocked
conversation gets the notice ahead of everything (a handoff included),
a handoff relays, otherwise the other policies decide."""
from __future__ import annotations

from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.slots import BooleanSlot
from rasa.shared.core.trackers import DialogueStateTracker

from kefu.core.names import BLOCKED_NOTICE_ACTION, BLOCKED_SLOT, HANDOFF_SLOT, RELAY_ACTION
from kefu.dialogue.policies import next_action

SLOTS = [BooleanSlot(BLOCKED_SLOT, mappings=[{"type": "custom"}]),
         BooleanSlot(HANDOFF_SLOT, mappings=[{"type": "custom"}])]


def _tracker(*events) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("web:x", [ActionExecuted("action_listen"), *events], slots=SLOTS)


def test_a_blocked_conversation_gets_the_notice_then_listens():
    said = UserUttered("你好", intent={"name": "greet", "confidence": 1.0})
    blocked = [SlotSet(BLOCKED_SLOT, True), SlotSet(HANDOFF_SLOT, True), ActionExecuted("action_listen"), said]
    assert next_action(_tracker(*blocked)) == BLOCKED_NOTICE_ACTION
    assert next_action(_tracker(*blocked, ActionExecuted(BLOCKED_NOTICE_ACTION))) == "action_listen"


def test_a_handoff_relays_and_otherwise_the_policy_stays_out():
    said = UserUttered("在吗", intent={"name": "greet", "confidence": 1.0})
    assert next_action(_tracker(SlotSet(HANDOFF_SLOT, True), ActionExecuted("action_listen"), said)) == RELAY_ACTION
    assert next_action(_tracker(ActionExecuted("action_listen"), said)) is None

"""The handoff policy: while a person has the conversation, the bot only
relays.

Rasa's own pause (``ConversationPaused``) keeps a conversation silent but
then ignores ordinary messages until something resumes it from outside
(rasa#8119), and nothing runs that could pass the shopper's words to the
agent. Kefu does not pause. ``action_handoff`` sets the ``handoff_active``
slot; while it is true this policy answers every user message with
``action_relay_to_agent`` (which hands the text to the agent desk and says
nothing), whatever the intent, ahead of rules and forms, except "留言": a
shopper still waiting may leave a message instead. The agent desk ends
the handoff by running ``action_handback``, which clears the slot; from the
next message on the other policies decide again.

A conversation a supervisor blocked for repeated abuse (the
``conversation_blocked`` slot, set by ``action_block`` that the desk runs)
gets ``action_blocked_notice`` for every message instead, ahead of all else.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from kefu.core.names import (
    BLOCKED_NOTICE_ACTION,
    BLOCKED_SLOT,
    HANDOFF_SLOT,
    LEAVE_MESSAGE_ACTION,
    LEAVE_MESSAGE_INTENT,
    RELAY_ACTION,
)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class HandoffPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # Above RulePolicy (6): while an agent has the conversation, nothing
        # else may answer.
        return {"priority": 7}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "HandoffPolicy":
        return cls(config, model_storage, resource, execution_context)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "HandoffPolicy":
        return cls(config, model_storage, resource, execution_context)

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource  # nothing to learn

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        action = next_action(tracker)
        if action is not None:
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)


def next_action(tracker: DialogueStateTracker) -> Optional[str]:
    """Blocked: the notice, then listen. During a handoff: relay a new user
    message, then listen; "留言" (leave a message instead of waiting) goes
    to its action."""
    if tracker.get_slot(BLOCKED_SLOT):
        if tracker.latest_action_name == ACTION_LISTEN_NAME:
            return BLOCKED_NOTICE_ACTION
        return ACTION_LISTEN_NAME if tracker.latest_action_name == BLOCKED_NOTICE_ACTION else None
    if not tracker.get_slot(HANDOFF_SLOT):
        return None
    if tracker.latest_action_name == ACTION_LISTEN_NAME:
        intent = (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None
        return LEAVE_MESSAGE_ACTION if intent == LEAVE_MESSAGE_INTENT else RELAY_ACTION
    if tracker.latest_action_name in (RELAY_ACTION, LEAVE_MESSAGE_ACTION):
        return ACTION_LISTEN_NAME
    return None

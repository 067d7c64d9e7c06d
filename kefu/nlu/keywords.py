"""Messages that are one agreed word, decided by the word, not by a model.

"退订", "TD" or "stop" alone must switch order news off every time, the way
an SMS "STOP" does: a classifier that is right 99 times in 100 is not good
enough for a shopper's "leave me alone". :class:`KeywordIntents` runs after
the intent classifier and, when the whole message (case, spaces and
punctuation aside) is one of the words config.yml lists for an intent, sets
that intent with confidence 1. Longer messages ("别再给我发通知了") are the
classifier's, trained on data/nlu/opt_out.yml.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

_IGNORED = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """Lower case, full-width folded, without spaces or punctuation: "ＳＴＯＰ!" -> "stop"."""
    return _IGNORED.sub("", unicodedata.normalize("NFKC", text).lower())


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class KeywordIntents(GraphComponent):
    """``intents: {opt_out: [退订, TD, stop], ...}``: exact words per intent."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"intents": {}}

    def __init__(self, words: Dict[str, str]) -> None:
        self.words = words  # normalised word -> intent

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "KeywordIntents":
        words = {normalise(str(word)): intent for intent, listed in (config.get("intents") or {}).items()
                 for word in listed}
        return cls({word: intent for word, intent in words.items() if word})

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = self.words.get(normalise(message.get(TEXT) or ""))
            if intent is None:
                continue
            chosen = {"name": intent, "confidence": 1.0}
            others = [r for r in message.get("intent_ranking") or [] if r.get("name") != intent]
            message.set(INTENT, chosen, add_to_output=True)
            message.set("intent_ranking", [chosen, *[{**r, "confidence": 0.0} for r in others]], add_to_output=True)
        return messages

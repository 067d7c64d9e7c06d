"""Which language to answer in, decided inside Rasa's NLU.

Decided per message, but sticky: a bare "ok", "1234" or a button payload
says nothing about the shopper's language and keeps the current one, while
any Chinese character makes the reply Chinese (Chinese first: mixed text such
as "order咋还没到" is a Chinese shopper), and English words, even a lone "hi",
make it English.

:class:`LanguageExtractor` puts the verdict of a decisive message into the
parse as a ``language`` entity, which the ``language`` slot maps from
(``from_entity``): Rasa fills the slot itself, with no call to the action
server on every turn, and a message with no verdict leaves it as it was.
The entity does not influence the dialogue (domain.yml).
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

ZH, EN = "zh", "en"
ENTITY = "language"
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
# Words Chinese shoppers type as often as English ones. A Latin greeting is
# not one of them: "hi" alone opens an English conversation.
_NEUTRAL = {"ok", "okay", "yes", "no", "thx", "kf", "qs", "pls", "app", "vip", "td"}


def decisive_language(text: Optional[str]) -> Optional[str]:
    """The language ``text`` is written in, or None when it does not say
    (digits, "ok", a button payload, nothing)."""
    text = (text or "").strip()
    if not text or text.startswith("/"):
        return None
    if _CJK.search(text):
        return ZH
    words = [w.lower() for w in _LATIN_WORD.findall(text)]
    if len(words) >= 2 or any(w not in _NEUTRAL for w in words):
        return EN
    return None


def detect_language(text: Optional[str], current: Optional[str]) -> str:
    """The language for the reply to ``text`` given the conversation's
    ``current`` language (``None`` at the start: Chinese)."""
    return decisive_language(text) or (current if current in (ZH, EN) else ZH)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageExtractor(GraphComponent):
    """Adds the ``language`` entity to messages that decide the language."""

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LanguageExtractor":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            language = decisive_language(text)
            if language is None:
                continue
            entity = {"entity": ENTITY, "value": language, "start": 0, "end": len(text or ""),
                      "confidence_entity": 1.0, "extractor": type(self).__name__}
            message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages

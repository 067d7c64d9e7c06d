"""The sentences of domain.yml, for code that composes or speaks outside a Rasa turn.

A connector answering a message it refused (too long, unreadable), or the
balancer answering for a Rasa instance that is down, cannot ask Rasa's NLG;
an action filling ``{details}`` with the lines of a tracking history needs
those lines in the shopper's language. Both read the responses of
``domain.yml`` here, so that every sentence a shopper reads lives in one
place, in both languages, where trainers edit them. (The action server does
not rely on the domain Rasa sends with a call: with a selective domain,
Rasa sends none; kefu.core.domain.)
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from kefu.core.config import PROJECT_ROOT
from kefu.core.domain import DOMAIN, load

#: the retrieval intents' answers (``utter_faq/returns``...) live beside their examples
NLU_DATA = PROJECT_ROOT / "data" / "nlu"


def _responses(path: str) -> Dict[str, List[dict]]:
    return load(Path(path)).get("responses") or {}


@lru_cache(maxsize=2)
def _retrieval(directory: str) -> Dict[str, List[dict]]:
    found: Dict[str, List[dict]] = {}
    for path in sorted(Path(directory).glob("*.yml")):
        found.update((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {})
    return found


def _pick(variations: List[dict], language: str) -> str:
    chosen = variations[0]
    for variation in variations:
        conditions = variation.get("condition") or []
        if language == "en" and any(c.get("name") == "language" and c.get("value") == "en" for c in conditions):
            chosen = variation
    return str(chosen["text"])


def answer(key: str, language: str = "zh", /, directory: Path = NLU_DATA) -> Optional[str]:
    """The answer of a retrieval intent's topic (``faq/returns``) in
    ``language``, as the bot would give it; None for an unknown topic."""
    variations = _retrieval(str(directory)).get(f"utter_{key}")
    return _pick(variations, language) if variations else None


def exists(name: str, /, domain: Path = DOMAIN) -> bool:
    return name in _responses(str(domain))


def text(name: str, language: str = "zh", /, domain: Path = DOMAIN, **values: object) -> str:
    """The text of response ``name`` in ``language`` (the Chinese default
    unless an English variation exists), its ``{placeholders}`` filled."""
    variations = _responses(str(domain)).get(name)
    if not variations:
        raise KeyError(f"no response {name} in {domain}")
    chosen = _pick(variations, language)
    return chosen.format(**values) if values else chosen


def both(name: str, /, domain: Path = DOMAIN, separator: str = " ", **values: object) -> str:
    """Chinese and English in one text, for a channel that cannot know the
    shopper's language (a bare HTTP answer, a WeChat notice, a mail)."""
    zh, en = text(name, "zh", domain, **values), text(name, "en", domain, **values)
    return zh if zh == en else f"{zh}{separator}{en}"

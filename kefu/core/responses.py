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

from pathlib import Path
from typing import Dict, List

from kefu.core.domain import DOMAIN, load


def _responses(path: str) -> Dict[str, List[dict]]:
    return load(Path(path)).get("responses") or {}


def exists(name: str, /, domain: Path = DOMAIN) -> bool:
    return name in _responses(str(domain))


def text(name: str, language: str = "zh", /, domain: Path = DOMAIN, **values: object) -> str:
    """The text of response ``name`` in ``language`` (the Chinese default
    unless an English variation exists), its ``{placeholders}`` filled."""
    variations = _responses(str(domain)).get(name)
    if not variations:
        raise KeyError(f"no response {name} in {domain}")
    chosen = variations[0]
    for variation in variations:
        conditions = variation.get("condition") or []
        if language == "en" and any(c.get("name") == "language" and c.get("value") == "en" for c in conditions):
            chosen = variation
    return str(chosen["text"]).format(**values) if values else str(chosen["text"])


def both(name: str, /, domain: Path = DOMAIN, separator: str = " ", **values: object) -> str:
    """Chinese and English in one text, for a channel that cannot know the
    shopper's language (a bare HTTP answer, a WeChat notice, a mail)."""
    zh, en = text(name, "zh", domain, **values), text(name, "en", domain, **values)
    return zh if zh == en else f"{zh}{separator}{en}"

"""Words that actions put into response templates, in the conversation's language.

The words themselves are responses of domain.yml (``utter_label_<key>``,
``utter_topic_<intent>``, ``utter_part_<line>``), so trainers edit every
sentence in one place; this module only picks them and formats numbers,
times and lists the way a shopper reads them.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterable, Optional

from kefu.core import responses

#: shoppers read times in China time
CHINA = timezone(timedelta(hours=8))

_LIST_SEPARATOR = {"zh": "、", "en": ", "}


def label(key: Optional[str], lang: str) -> str:
    """The words for a status or a reason (``utter_label_<key>``); an
    unknown key is shown as it is rather than failing a reply (a missing
    reason as "None", the way a template shows a None value)."""
    name = f"utter_label_{key}"
    return responses.text(name, lang) if responses.exists(name) else str(key)


def topic(intent: str, lang: str) -> str | None:
    """What an intent is about, for "did you mean ...?" (``utter_topic_<intent>``);
    None for an intent that is never offered."""
    name = f"utter_topic_{intent}"
    return responses.text(name, lang) if responses.exists(name) else None


def phrase(name: str, lang: str, /, **values: object) -> str:
    """A line of a longer reply (``utter_part_...``), its placeholders filled.
    The domain is passed by name, so a placeholder called ``domain`` fails
    loudly (TypeError) instead of being read as the domain's path."""
    return responses.text(name, lang, domain=responses.DOMAIN, **values)


def listing(items: Iterable[str], lang: str) -> str:
    """'A、B、C' in Chinese, 'A, B, C' in English."""
    return _LIST_SEPARATOR.get(lang, "、").join(items)


def yuan(cents: int) -> str:
    """Cents as a price: 189900 -> '1899.00'."""
    return f"{cents / 100:.2f}"


def china_time(moment: datetime, pattern: str = "%m-%d %H:%M") -> str:
    """A moment as shoppers read it, in China time."""
    return f"{moment.astimezone(CHINA):{pattern}}"

"""Which language to answer in.

Decided per message, but sticky: a bare "ok", "1234" or a button payload
says nothing about the shopper's language and keeps the current one, while
any Chinese character makes the reply Chinese (Chinese first: mixed text such
as "order咋还没到" is a Chinese shopper).
"""
from __future__ import annotations

import re

ZH, EN = "zh", "en"
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
# Words Chinese shoppers type as often as English ones. A Latin greeting is
# not one of them: "hi" alone opens an English conversation.
_NEUTRAL = {"ok", "okay", "yes", "no", "thx", "kf", "qs", "pls", "app", "vip"}


def detect_language(text: str | None, current: str | None) -> str:
    """The language for the reply to ``text`` given the conversation's
    ``current`` language (``None`` at the start)."""
    current = current if current in (ZH, EN) else ZH
    text = (text or "").strip()
    if not text or text.startswith("/"):
        return current
    if _CJK.search(text):
        return ZH
    words = [w.lower() for w in _LATIN_WORD.findall(text)]
    meaningful = [w for w in words if w not in _NEUTRAL]
    if len(words) >= 2 or meaningful:
        return EN
    return current

"""How alike two short texts are, in characters: the desk's canned-reply
suggestions and the trainers' grouping of candidate FAQs both ask here.

Character pairs (bigrams) without spaces, punctuation or case work for
Chinese without a tokenizer and forgive English typos; Jaccard over them
is 1 for the same words and 0 for nothing in common.
"""
from __future__ import annotations

import re
from typing import Set

_IGNORED = re.compile(r"[\s\W_]+", re.UNICODE)


def char_pairs(text: str) -> Set[str]:
    """The text's character pairs (a one-character text: itself)."""
    plain = _IGNORED.sub("", text.lower())
    return {plain[i:i + 2] for i in range(len(plain) - 1)} or ({plain} if plain else set())


def jaccard(a: Set[str], b: Set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0

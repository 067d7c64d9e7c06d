"""Text that arrives from outside, made safe before anything stores it.

Every connector passes a shopper's text through :func:`clean`: invalid
Unicode (a lone surrogate from a JSON ``\\ud800`` escape cannot be written as
UTF-8 and once broke analytics ingestion for good) and control characters
are refused or dropped, full-width Latin letters and digits (``５６７８``,
typed with Chinese input methods) become ASCII so that order ids and phone
digits are recognised, and the length is capped: the NLU's cost grows with
the text, and nobody types 10,000 characters to a shop.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any

#: the longest message any channel hands to the assistant
MAX_MESSAGE_CHARS = 2000

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
#: full-width digits and Latin letters (not the full-width punctuation that
#: Chinese text uses on purpose), and the ideographic space
_FULL_WIDTH = {**{code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)},
               **{code: code - 0xFEE0 for code in range(0xFF21, 0xFF3B)},
               **{code: code - 0xFEE0 for code in range(0xFF41, 0xFF5B)},
               0x3000: 0x20}


class BadText(ValueError):
    """Text that must not reach the conversation; ``reason`` is ``invalid``,
    ``empty`` or ``too_long`` (each connector answers it in its own way)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalise(text: str) -> str:
    """NFC, full-width digits and letters as ASCII, controls dropped, line
    ends as ``\\n``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text.translate(_FULL_WIDTH))
    return unicodedata.normalize("NFC", text)


def clean(text: Any, max_chars: int = MAX_MESSAGE_CHARS) -> str:
    """The shopper's text, normalised and stripped; :class:`BadText` when it
    is not text, cannot be stored, is empty or too long."""
    if not isinstance(text, str):
        raise BadText("invalid")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadText("invalid") from None
    text = normalise(text).strip()
    if not text:
        raise BadText("empty")
    if len(text) > max_chars:
        raise BadText("too_long")
    return text


def storable(text: Any) -> str:
    """Any text as something a database accepts (invalid code points
    replaced): for data that was stored before the edge cleaned it."""
    return str(text or "").encode("utf-8", "replace").decode("utf-8")


def digits(text: str) -> str:
    """``text`` under NFKC, for comparing digits however they were typed."""
    return unicodedata.normalize("NFKC", text or "")

"""Entity patterns shared by the tokenizer, the NLU data and the actions.

One definition of what an order id or a phone number looks like keeps the
tokenizer (which must keep such spans whole), `data/nlu/patterns.yml` (which
teaches Rasa the regex features and extracts them) and the form validators
in agreement. Lookarounds instead of ``\\b``: in Chinese text a digit run
touches CJK characters, which Python counts as word characters.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterator

#: entity name -> regex (Python syntax, also valid for Rasa's regex features)
ENTITY_PATTERNS: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "ticket_id": r"(?<![A-Za-z0-9])[Tt][Kk]\d{8}(?!\d)",
    "aftersale_id": r"(?<![A-Za-z0-9])[Aa][Ss]\d{8}(?!\d)",
    "order_id": r"(?<!\d)\d{16}(?!\d)",
    "phone": r"(?<!\d)1[3-9]\d{9}(?!\d)",
    # a count of items: Arabic digits right before a measure word ("2件", "3 pcs")
    "quantity": (
        r"(?<![\d.])\d{1,4}(?=\s*(?:件|个|台|双|瓶|盒|箱|套|支|条|包|罐|袋|只|部|份"
        r"|pcs\b|pieces\b|units\b|items\b|boxes\b|pairs\b|bottles\b))"
    ),
}

_COMPILED = {name: re.compile(rx) for name, rx in ENTITY_PATTERNS.items()}
#: every pattern above holds a digit or an @: text with neither has no entity
#: (most messages; the e-mail pattern is the slow one to try)
_NEEDED = re.compile(r"[\d@]")
_LAST4 = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def find_entities(text: str) -> Iterator[tuple[str, int, int]]:
    """Yield ``(entity, start, end)`` for every pattern match, leftmost first,
    without overlaps (an e-mail wins over the digits inside it)."""
    spans: list[tuple[int, int, str]] = []
    if not _NEEDED.search(text):
        return
    for name, rx in _COMPILED.items():
        for match in rx.finditer(text):
            spans.append((match.start(), match.end(), name))
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    last_end = -1
    for start, end, name in spans:
        if start >= last_end:
            last_end = end
            yield name, start, end


def match_entity(name: str, text: str) -> str | None:
    """The first value of entity ``name`` in ``text``, normalised (upper-case
    ids), or ``None``."""
    match = _COMPILED[name].search(unicodedata.normalize("NFKC", text or ""))
    if not match:
        return None
    value = match.group(0)
    return value.upper() if name in ("ticket_id", "aftersale_id") else value


def extract_last4(text: str) -> str | None:
    """The last four phone digits from a reply such as '尾号5678' or 'it's 5678'.

    Exactly one run of four digits must be present: '56789' or '12 34' are
    ambiguous and rejected rather than guessed. Digits typed full-width
    ('５６７８', Chinese input methods) are read as the digits they are.
    """
    runs = _LAST4.findall(unicodedata.normalize("NFKC", text or ""))
    return runs[0] if len(runs) == 1 and runs[0].isascii() else None


def term_regex(term: str) -> str:
    """A dictionary term as a regex that does not match inside a longer
    Latin word or number: "rice" must not match in "price", nor "af1" in
    "caf1x". Chinese has no such boundary, so CJK edges stay open."""
    body = r"\s*".join(re.escape(part) for part in term.split())
    if re.match(r"[A-Za-z0-9]", term[0]):
        body = r"(?<![A-Za-z0-9])" + body
    if re.match(r"[A-Za-z0-9]", term[-1]):
        body += r"(?![A-Za-z0-9])"
    return body

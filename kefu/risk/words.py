"""Abuse, escalation signals and very negative messages, from risk.yml.

``assess`` tells what a shopper's message carries; ``mask`` hides the
abusive words (＊ for each character) wherever agents, trainers and managers
read messages. A Latin or numeric word matches only whole (so "12315" is
not found inside an order number, nor "sue" inside "issue"); a Chinese word
matches anywhere, as Chinese has no spaces.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Pattern, Tuple

from kefu.core.config import load_settings
from kefu.core.yamlfile import load_cached

MASK = "＊"


@dataclass(frozen=True)
class Signal:
    kind: str  # regulator | legal | media | threat | self_harm | negative
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Assessment:
    """What one message (or a few) carries."""

    abuse: int = 0  # abusive words found
    signals: Tuple[Signal, ...] = ()  # escalation signals, each kind once

    @property
    def escalates(self) -> bool:
        return bool(self.signals)

    def as_json(self) -> Dict[str, Any]:
        return {"abuse": self.abuse, "signals": [s.kind for s in self.signals],
                "reasons": [f"{s.name_zh} {s.name_en}" for s in self.signals]}


@dataclass(frozen=True)
class RiskWords:
    abuse: Pattern[str]
    escalation: Tuple[Tuple[Signal, Pattern[str]], ...]
    negative: Pattern[str]
    negative_needed: int
    kinds: Dict[str, Signal] = field(default_factory=dict)

    def assess(self, *texts: str) -> Assessment:
        text = " ".join(t for t in texts if t)
        if not text:
            return Assessment()
        signals = [signal for signal, pattern in self.escalation if pattern.search(text)]
        negatives = len(self.negative.findall(text))
        shouting = text.count("!") + text.count("！")
        if negatives >= self.negative_needed or (negatives and shouting >= 3):
            signals.append(NEGATIVE)
        return Assessment(len(self.abuse.findall(text)), tuple(signals))

    def mask(self, text: str) -> str:
        return self.abuse.sub(lambda m: MASK * len(m.group(0)), text) if text else text


NEGATIVE = Signal("negative", "情绪激烈", "very negative")


def _pattern(words: List[str]) -> Pattern[str]:
    """One case-insensitive pattern; Latin/numeric words only whole. Longer
    words first, so "fuck off" masks whole rather than "fuck" and " off"."""
    parts = []
    for word in sorted({str(w).strip() for w in words if str(w).strip()}, key=len, reverse=True):
        escaped = re.escape(word)
        parts.append(rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])" if word.isascii() else escaped)
    return re.compile("|".join(parts) or r"(?!x)x", re.IGNORECASE)


def _both(spec: Optional[Mapping[str, Any]]) -> List[str]:
    spec = spec or {}
    return [*(spec.get("zh") or ()), *(spec.get("en") or ())]


def parse(config: Mapping[str, Any]) -> RiskWords:
    escalation = []
    for kind, spec in (config.get("escalation") or {}).items():
        name = (spec or {}).get("name") or {}
        signal = Signal(str(kind), str(name.get("zh", kind)), str(name.get("en", kind)))
        escalation.append((signal, _pattern(_both(spec))))
    kinds = {s.kind: s for s, _ in escalation} | {NEGATIVE.kind: NEGATIVE}
    return RiskWords(_pattern(_both(config.get("abuse"))), tuple(escalation), _pattern(_both(config.get("negative"))),
                     int(config.get("negative_words_needed", 2)), kinds)


def load(path: Optional[Path] = None) -> RiskWords:
    return load_cached(Path(path or load_settings().risk_path), parse)


def assess(*texts: str) -> Assessment:
    return load().assess(*texts)


def mask(text: str) -> str:
    """``text`` with its abusive words hidden (risk.yml's ``abuse``)."""
    return load().mask(text)

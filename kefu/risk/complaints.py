"""The category of a complaint (logistics, quality, service attitude, price,
fraud), for routing and analytics.

A logistic regression over character n-grams (1 to 3, so it needs no word
segmentation and reads Chinese and English alike) learns the categories
from risk.yml's examples and keywords when first asked, in well under a
second, and again whenever the file changes: a trainer adds examples and
the next complaint is read with them. A message none of the categories
explains well enough gets none (``other``), rather than a guess.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Mapping, Optional, Tuple

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from kefu.core.config import load_settings
from kefu.core.yamlfile import load_cached

#: below this probability the message is ``other`` (five categories share 1.0);
#: 0.3 keeps 35 of the 40 held-out complaints (tests/risk/) right
MIN_CONFIDENCE = 0.3


@dataclass(frozen=True)
class Category:
    code: str  # logistics | quality | service | price | fraud | other
    name_zh: str
    name_en: str
    confidence: float


OTHER = Category("other", "其他", "other", 0.0)


@dataclass(frozen=True)
class ComplaintClassifier:
    model: Pipeline
    names: Mapping[str, Tuple[str, str]]

    def categorize(self, text: str) -> Category:
        if not text or not text.strip():
            return OTHER
        probabilities = self.model.predict_proba([text])[0]
        best = int(probabilities.argmax())
        code = str(self.model.classes_[best])
        if probabilities[best] < MIN_CONFIDENCE:
            return OTHER
        zh, en = self.names[code]
        return Category(code, zh, en, round(float(probabilities[best]), 3))


def parse(config: Mapping[str, Any]) -> ComplaintClassifier:
    texts: List[str] = []
    labels: List[str] = []
    names = {}
    for code, spec in (config.get("complaint_categories") or {}).items():
        spec = spec or {}
        name = spec.get("name") or {}
        names[str(code)] = (str(name.get("zh", code)), str(name.get("en", code)))
        for text in [*(spec.get("examples") or ()), *(spec.get("keywords") or ())]:
            texts.append(str(text))
            labels.append(str(code))
    if len(names) < 2:
        raise ValueError("risk.yml: complaint_categories needs at least two categories with examples")
    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), lowercase=True, sublinear_tf=True),
        LogisticRegression(C=30.0, max_iter=3000, class_weight="balanced"),
    )
    model.fit(texts, labels)
    return ComplaintClassifier(model, names)


def load(path: Optional[Path] = None) -> ComplaintClassifier:
    return load_cached(Path(path or load_settings().risk_path), parse)


def categorize(text: str) -> Category:
    """The complaint category of ``text`` (``other`` when none fits)."""
    return load().categorize(text)

"""Labelled messages from Rasa NLU YAML files: the held-out test set and the
training data, and stratified folds of the latter with a fixed seed."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Tuple

import yaml

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
#: entity markup [text](entity) or [text]{...} -> text
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]+\)|\{[^}]+\})")


@dataclass(frozen=True)
class Example:
    text: str  # with annotations removed
    label: str  # intent, or intent/topic for retrieval intents
    source: str  # the line as written (annotations kept), for training files

    @property
    def intent(self) -> str:
        return self.label.split("/", 1)[0]

    @property
    def language(self) -> str:
        return "zh" if CJK.search(self.text) else "en"


def read(paths: Iterable[Path]) -> List[Example]:
    """Every example of every intent block in ``paths`` (other blocks, such
    as lookup tables and regexes, are skipped)."""
    examples: List[Example] = []
    for path in paths:
        content = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        for block in content.get("nlu") or []:
            if "intent" not in block:
                continue
            for line in str(block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    source = line[2:].strip()
                    examples.append(Example(ANNOTATION.sub(lambda m: m.group(1), source), block["intent"], source))
    return examples


def folds(examples: List[Example], n: int, seed: int = 42) -> List[Tuple[List[Example], List[Example]]]:
    """(train, test) pairs of a stratified ``n``-fold split, the same every run."""
    from sklearn.model_selection import StratifiedKFold

    labels = [e.label for e in examples]
    splitter = StratifiedKFold(n_splits=n, shuffle=True, random_state=seed)
    return [([examples[i] for i in train], [examples[i] for i in test])
            for train, test in splitter.split(labels, labels)]


def write_training_file(examples: List[Example], responses_from: Iterable[Path], target: Path) -> Path:
    """An NLU file with ``examples`` (annotations kept) and the retrieval
    responses of ``responses_from``, for training one fold."""
    grouped: dict = {}
    for example in examples:
        grouped.setdefault(example.label, []).append(example.source)
    extra: dict = {}
    for path in responses_from:
        content = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        extra.setdefault("responses", {}).update(content.get("responses") or {})
        for block in content.get("nlu") or []:
            if "intent" not in block:
                extra.setdefault("nlu", []).append(block)  # lookup tables, regexes, synonyms
    blocks = [{"intent": label, "examples": "".join(f"- {text}\n" for text in texts)}
              for label, texts in grouped.items()]
    document = {"version": "3.1", "nlu": blocks + extra.get("nlu", []), "responses": extra.get("responses", {})}
    target.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=10_000), encoding="utf-8")
    return target

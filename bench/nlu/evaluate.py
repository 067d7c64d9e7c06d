"""Train a pipeline, parse labelled messages with it, score the answers.

Scores, per language and overall:

* ``accuracy``: the top intent (the best one that is not ``nlu_fallback``)
  is the right one; for a retrieval intent the topic must be right too
  (``topic_accuracy``), since the shopper reads the topic's answer;
* ``macro_f1`` over intents, and the per-intent F1;
* what the shopper would get with the fallback: ``answered_right``,
  ``asked_back`` (the FallbackClassifier made it ``nlu_fallback``: "did you
  mean ...?") and ``answered_wrong``;
* ``confident_errors``: the share of all messages answered wrongly with a
  confidence of 0.8 or more: wrong answers the fallback can never catch.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional

from bench.nlu.data import Example

CONFIDENT = 0.8
#: fallback thresholds tried after the fact on the same parses, to choose config.yml's
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
FALLBACK = "nlu_fallback"


def train(config: Path, nlu: Path, domain: Path, out: Path, name: str) -> Dict[str, Any]:
    """Train an NLU-only model on ``nlu`` (a file or a folder); its path,
    training seconds and size."""
    from rasa.model_training import train_nlu

    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    model = train_nlu(str(config), str(nlu), str(out), fixed_model_name=name, domain=str(domain))
    seconds = time.monotonic() - started
    if model is None:
        raise RuntimeError(f"training {config} produced no model")
    return {"model": model, "train_seconds": round(seconds, 1),
            "model_mb": round(Path(model).stat().st_size / 2**20, 2)}


def parse_all(model: str, examples: List[Example]) -> List[Dict[str, Any]]:
    """Rasa's parse of every example with the model, and how long it took."""
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # not a debug line per parsed message
    agent = Agent.load(model)

    async def run() -> List[Dict[str, Any]]:
        return [await agent.parse_message(e.text) for e in examples]

    return asyncio.run(run())


def _top(parse: Dict[str, Any]) -> tuple:
    """(best intent that is not the fallback, its confidence, the final intent)."""
    final = (parse.get("intent") or {}).get("name")
    for entry in parse.get("intent_ranking") or [parse.get("intent") or {}]:
        if entry.get("name") and entry["name"] != FALLBACK:
            return entry["name"], float(entry.get("confidence") or 0.0), final
    return None, 0.0, final


def _topic(parse: Dict[str, Any], intent: Optional[str]) -> Optional[str]:
    selected = (parse.get("response_selector") or {}).get(intent or "") or {}
    return (selected.get("response") or {}).get("intent_response_key")


def score(examples: List[Example], parses: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The scores of one set of predictions (see the module's docstring)."""
    from sklearn.metrics import f1_score

    rows = []
    for example, parse in zip(examples, parses, strict=True):
        intent, confidence, final = _top(parse)
        right_intent = intent == example.intent
        right = right_intent and ("/" not in example.label or _topic(parse, intent) == example.label)
        rows.append({"example": example, "intent": intent, "confidence": confidence, "final": final,
                     "right_intent": right_intent, "right": right})

    def figures(subset: List[dict]) -> Dict[str, Any]:
        n = max(len(subset), 1)
        truth = [r["example"].intent for r in subset]
        predicted = [r["intent"] or "None" for r in subset]
        labels = sorted(set(truth))
        retrieval = [r for r in subset if "/" in r["example"].label]
        asked = [r for r in subset if r["final"] == FALLBACK]
        answered = [r for r in subset if r["final"] != FALLBACK]
        return {
            "messages": len(subset),
            "accuracy": round(sum(r["right_intent"] for r in subset) / n, 4),
            "topic_accuracy": round(sum(r["right"] for r in retrieval) / max(len(retrieval), 1), 4),
            "macro_f1": round(float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)), 4),
            "answered_right": round(sum(r["right"] for r in answered) / n, 4),
            "asked_back": round(len(asked) / n, 4),
            "answered_wrong": round(sum(not r["right"] for r in answered) / n, 4),
            "confident_errors": round(
                sum(not r["right_intent"] and r["confidence"] >= CONFIDENT for r in subset) / n, 4),
            "confident_share_of_errors": round(
                sum(not r["right_intent"] and r["confidence"] >= CONFIDENT for r in subset)
                / max(sum(not r["right_intent"] for r in subset), 1), 4),
        }

    result: Dict[str, Any] = {"all": figures(rows)}
    for language in ("zh", "en"):
        result[language] = figures([r for r in rows if r["example"].language == language])
    truth = [r["example"].intent for r in rows]
    predicted = [r["intent"] or "None" for r in rows]
    labels = sorted(set(truth))
    per_intent = f1_score(truth, predicted, labels=labels, average=None, zero_division=0)
    result["thresholds"] = {
        str(t): {"asked_back": round(sum(r["confidence"] < t for r in rows) / max(len(rows), 1), 4),
                 "answered_wrong": round(sum(r["confidence"] >= t and not r["right"] for r in rows)
                                         / max(len(rows), 1), 4)}
        for t in THRESHOLDS}
    result["per_intent_f1"] = {label: round(float(value), 4) for label, value in zip(labels, per_intent, strict=True)}
    result["confusions"] = Counter(f"{r['example'].intent} -> {r['intent']}" for r in rows
                                   if not r["right_intent"]).most_common(15)
    result["errors"] = [{"text": r["example"].text, "label": r["example"].label, "predicted": r["intent"],
                         "topic": _topic(parses[i], r["intent"]), "confidence": round(r["confidence"], 3)}
                        for i, r in enumerate(rows) if not r["right"]]
    return result

"""5-fold cross-validation of the NLU pipeline, per intent and per language.

Rasa's own cross-validation gives per-intent precision/recall/F1 and the
confusion matrix; Kefu also needs to know whether English shoppers are
understood as well as Chinese ones, so every held-out prediction is split by
the language of its text and a macro-F1 is computed for each language.
Results go to reports/nlu/ (Rasa's files) and reports/nlu_benchmark.json and
.md (the summary).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

from sklearn.metrics import f1_score, precision_recall_fscore_support

ROOT = Path(__file__).resolve().parent.parent
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def language_of(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


def run_cross_validation(folds: int, out: Path) -> float:
    """Run Rasa's cross-validation; returns the wall time in seconds."""
    started = time.monotonic()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "rasa"), "test", "nlu",
            "--nlu", "data", "--config", "config.yml",
            "--cross-validation", "--folds", str(folds),
            "--out", str(out), "--successes",
        ],
        cwd=ROOT,
        check=True,
    )
    return time.monotonic() - started


def load_predictions(out: Path) -> List[Dict]:
    predictions = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = out / name
        if path.exists():
            predictions += json.loads(path.read_text(encoding="utf-8"))
    return predictions


def per_language(predictions: List[Dict]) -> Dict[str, Dict[str, float]]:
    summary = {}
    for lang in ("zh", "en"):
        rows = [p for p in predictions if language_of(p["text"]) == lang]
        truth = [p["intent"] for p in rows]
        predicted = [(p.get("intent_prediction") or {}).get("name") or "None" for p in rows]
        labels = sorted(set(truth))
        precision, recall, f1, _ = precision_recall_fscore_support(
            truth, predicted, labels=labels, average="macro", zero_division=0
        )
        summary[lang] = {
            "examples": len(rows),
            "macro_precision": round(float(precision), 4),
            "macro_recall": round(float(recall), 4),
            "macro_f1": round(float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)), 4),
            "accuracy": round(sum(t == p for t, p in zip(truth, predicted)) / max(len(rows), 1), 4),
        }
    return summary


def write_summary(out: Path, folds: int, seconds: float, languages: Dict) -> Dict:
    report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
    per_intent = {
        name: {k: round(v, 4) for k, v in values.items() if k in ("precision", "recall", "f1-score", "support")}
        for name, values in report.items()
        if isinstance(values, dict) and "precision" in values and name not in ("macro avg", "weighted avg", "micro avg")
    }
    summary = {
        "folds": folds,
        "cross_validation_seconds": round(seconds, 1),
        "train_seconds_per_fold": round(seconds / folds, 1),
        "languages": languages,
        "overall_macro_f1": round(report.get("macro avg", {}).get("f1-score", 0.0), 4),
        "per_intent": per_intent,
    }
    (ROOT / "reports" / "nlu_benchmark.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    lines = [
        "# NLU benchmark (5-fold cross-validation)",
        "",
        f"- folds: {folds}; wall time {seconds:.0f} s (~{seconds / folds:.0f} s per fold: train + test)",
        f"- overall macro-F1: {summary['overall_macro_f1']}",
    ]
    for lang, figures in languages.items():
        lines.append(f"- {lang}: macro-F1 {figures['macro_f1']}, accuracy {figures['accuracy']} over {figures['examples']} examples")
    lines += ["", "| intent | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |"]
    for name, v in sorted(per_intent.items()):
        lines.append(f"| {name} | {v.get('precision')} | {v.get('recall')} | {v.get('f1-score')} | {v.get('support')} |")
    lines += ["", "Confusion matrix: `reports/nlu/intent_confusion_matrix.png`."]
    (ROOT / "reports" / "nlu_benchmark.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return summary


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    out = ROOT / "reports" / "nlu"
    seconds = run_cross_validation(args.folds, out)
    summary = write_summary(out, args.folds, seconds, per_language(load_predictions(out)))
    print(json.dumps({k: v for k, v in summary.items() if k != "per_intent"}, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``make bench-nlu``: candidate NLU pipelines side by side.

For each pipeline (``config.yml`` itself, and the candidates in
``bench/nlu/configs/``): the full training time and model size, the scores on
the held-out test set (tests/nlu/, never trained on) and, with ``--folds``,
stratified cross-validation over data/nlu/ with a fixed seed. Writes
``reports/nlu/benchmark.json`` and ``reports/nlu/benchmark.md``.

    python -m bench.nlu                        # every candidate, test set only
    python -m bench.nlu --folds 5 --only kefu  # config.yml, with cross-validation
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

from bench.nlu import data, evaluate

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = Path(__file__).resolve().parent / "configs"
REPORTS = ROOT / "reports" / "nlu"
TEST_SET = sorted((ROOT / "tests" / "nlu").glob("*.yml"))


def training_files() -> List[Path]:
    return sorted((ROOT / "data" / "nlu").glob("*.yml"))


def candidates(only: List[str]) -> Dict[str, Path]:
    found = {"kefu": ROOT / "config.yml", **{p.stem: p for p in sorted(CONFIGS.glob("*.yml"))}}
    if not only:
        return found
    return {name: found[name] for name in only}  # in the order asked: the slow ones last


def score_model(model: str, result: Dict[str, Any]) -> Dict[str, Any]:
    """Parse the held-out test set with ``model`` and add the scores to ``result``."""
    test = data.read(TEST_SET)
    started = time.monotonic()
    parses = evaluate.parse_all(model, test)
    result.update(parse_ms=round((time.monotonic() - started) * 1000 / max(len(test), 1), 2),
                  test=evaluate.score(test, parses))
    return result


def run_candidate(name: str, config: Path, folds: int, work: Path,
                  cv_errors: Path | None = None) -> Dict[str, Any]:
    result: Dict[str, Any] = {"config": str(config.relative_to(ROOT)), "examples": len(data.read(training_files()))}
    trained = evaluate.train(config, ROOT / "data" / "nlu", ROOT / "domain.yml", work / name, name)
    result.update(train_seconds=trained["train_seconds"], model_mb=trained["model_mb"])
    score_model(trained["model"], result)
    if folds:
        examples = data.read(training_files())
        parses_cv: List[Dict[str, Any]] = []
        held_out: List[data.Example] = []
        for n, (train, held) in enumerate(data.folds(examples, folds)):
            fold_dir = work / f"{name}-fold{n}"
            fold_dir.mkdir(parents=True, exist_ok=True)
            nlu = data.write_training_file(train, training_files(), fold_dir / "nlu.yml")
            model = evaluate.train(config, nlu, ROOT / "domain.yml", fold_dir, "fold")["model"]
            parses_cv += evaluate.parse_all(model, held)
            held_out += held
        cv = evaluate.score(held_out, parses_cv)
        errors = cv.pop("errors")
        if cv_errors is not None:  # for trainers: training examples the others do not teach
            cv_errors.mkdir(parents=True, exist_ok=True)
            (cv_errors / f"{name}.json").write_text(json.dumps(errors, ensure_ascii=False, indent=1),
                                                     encoding="utf-8")
        result["cross_validation"] = {"folds": folds, "seed": 42, **cv}
    return result


def markdown(results: Dict[str, Any]) -> str:
    lines = ["# NLU benchmark", "",
             "Held-out test set: `tests/nlu/` (written apart from the training data, never trained on). "
             "Accuracy: the best intent that is not the fallback; topic accuracy: the retrieval topic too. "
             "Confident errors: wrong with confidence ≥ 0.8, as a share of all messages. Rows measured on "
             "different days or training sets (examples) are not comparable with each other.", "",
             "| pipeline | measured | examples | train s | model MB | parse ms | zh acc | zh F1 | en acc | en F1 | "
             "topic acc | confident errors | asked back | CV acc (zh/en) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in results.items():
        t = r["test"]
        cv = r.get("cross_validation")
        cv_text = f"{cv['all']['accuracy']} ({cv['zh']['accuracy']}/{cv['en']['accuracy']})" if cv else "–"
        examples = r.get("examples") or (cv or {}).get("all", {}).get("messages", "–")
        lines.append(f"| {name} | {r.get('measured', '–')} | {examples} | {r['train_seconds']} | {r['model_mb']} | "
                     f"{r['parse_ms']} | {t['zh']['accuracy']} | "
                     f"{t['zh']['macro_f1']} | {t['en']['accuracy']} | {t['en']['macro_f1']} | "
                     f"{t['all']['topic_accuracy']} | {t['all']['confident_errors']} | {t['all']['asked_back']} | "
                     f"{cv_text} |")
    lines += ["", "What the fallback threshold would do (same parses; asked back / answered wrong):", "",
              "| pipeline | " + " | ".join(evaluate_thresholds(results)) + " |",
              "| --- |" + " --- |" * len(evaluate_thresholds(results))]
    for name, r in results.items():
        cells = [f"{v['asked_back']} / {v['answered_wrong']}" for v in r["test"]["thresholds"].values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, r in results.items():
        lines += ["", f"## {name} (`{r['config']}`)", "", "| intent | F1 (test set) |", "| --- | --- |"]
        lines += [f"| {intent} | {f1} |" for intent, f1 in sorted(r["test"]["per_intent_f1"].items())]
        lines += ["", "Most frequent confusions (truth -> predicted): "
                  + "; ".join(f"{pair} ({count})" for pair, count in r["test"]["confusions"])]
    return "\n".join(lines) + "\n"


def evaluate_thresholds(results: Dict[str, Any]) -> List[str]:
    first = next(iter(results.values()), {"test": {"thresholds": {}}})
    return list(first["test"]["thresholds"])


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=0, help="cross-validation folds (0: the test set only)")
    parser.add_argument("--only", nargs="*", default=[], help="pipelines to run (kefu = config.yml)")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="also score an already trained model (e.g. the previous release) on the test set")
    parser.add_argument("--out", type=Path, default=REPORTS)
    parser.add_argument("--cv-errors", type=Path, default=None, metavar="DIR",
                        help="write each pipeline's cross-validation errors to DIR/<pipeline>.json")
    parser.add_argument("--keep", action="store_true",
                        help="keep the results of pipelines not run this time from the report in --out")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kefu-bench-nlu-"))
    earlier = args.out / "benchmark.json"
    results: Dict[str, Any] = json.loads(earlier.read_text(encoding="utf-8")) if args.keep and earlier.exists() else {}
    try:
        for spec in args.model:
            name, _, path = spec.partition("=")
            print(f"== {name} (trained model {path})", flush=True)
            size = round(Path(path).stat().st_size / 2**20, 2)
            results[name] = score_model(path, {"config": path, "train_seconds": "–", "model_mb": size,
                                               "measured": time.strftime("%Y-%m-%d")})
            write(results, args.out)
        for name, config in candidates(args.only).items():
            print(f"== {name}", flush=True)
            results[name] = {**run_candidate(name, config, args.folds, work, args.cv_errors),
                             "measured": time.strftime("%Y-%m-%d")}
            print(json.dumps({k: results[name]["test"][k] for k in ("zh", "en")}, indent=1), flush=True)
            write(results, args.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(markdown(results))
    return 0


def write(results: Dict[str, Any], out: Path) -> None:
    """Write the results so far: a long run that stops still leaves its figures."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "benchmark.md").write_text(markdown(results), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())

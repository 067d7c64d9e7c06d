"""How long ``make train`` takes: a full training with an empty cache, then a
retrain after a data-only change (one new example, as a trainer makes).

Both run ``kefu.ops.train`` (what ``make train`` runs) on a copy of
config.yml, domain.yml and data/ in a temporary directory with its own
Rasa cache, so the project's model and cache are left alone. Written to
reports/perf/training.json; ``python -m bench.perf.training``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from kefu.core.config import PROJECT_ROOT
from kefu.ops.commands import PYTHON

REPORTS = PROJECT_ROOT / "reports" / "perf"
#: a line no training file holds, appended to the greetings
NEW_EXAMPLE = "    - 哈喽哈喽 客服小姐姐在线不 (bench {stamp})\n"


def timed_train(project: Path, env: Dict[str, str]) -> float:
    started = time.monotonic()
    subprocess.run([PYTHON, "-m", "kefu.ops.train", "--out", "models", "--name", "kefu"], cwd=project, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return round(time.monotonic() - started, 1)


def measure(repeats: int) -> Dict[str, List[float]]:
    full: List[float] = []
    data_only: List[float] = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="bench-train-") as scratch:
            project = Path(scratch)
            for name in ("config.yml", "domain.yml"):
                shutil.copy(PROJECT_ROOT / name, project / name)
            shutil.copytree(PROJECT_ROOT / "data", project / "data")
            env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "RASA_CACHE_DIRECTORY": str(project / "cache"),
                   "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
            full.append(timed_train(project, env))
            with open(project / "data" / "nlu" / "greet.yml", "a", encoding="utf-8") as greetings:
                greetings.write(NEW_EXAMPLE.format(stamp=time.time_ns()))
            data_only.append(timed_train(project, env))
    return {"full_s": full, "data_only_s": data_only}


def main(args: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Time make train: full, and after a data-only change.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPORTS)
    options = parser.parse_args(args)
    result = measure(options.repeats)
    result = {**result, "full_median_s": sorted(result["full_s"])[len(result["full_s"]) // 2],
              "data_only_median_s": sorted(result["data_only_s"])[len(result["data_only_s"]) // 2],
              "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "training.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"make train: full {result['full_median_s']} s, after a data-only change {result['data_only_median_s']} s "
          f"(medians of {options.repeats})")


if __name__ == "__main__":
    main()

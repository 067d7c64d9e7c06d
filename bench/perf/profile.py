"""Where a reply's CPU goes: py-spy on Kefu's Rasa and action server under load.

``python -m bench.perf.profile`` starts the ``kefu`` bot of the benchmark,
offers a steady open-loop load, and samples both processes with py-spy
(``--nonblocking``: the processes are not paused, so the load is not
distorted). The stacks are grouped by the first frame that names a part of
the pipeline (bench.perf.profile.PARTS, most specific first) and written as
a table of shares to reports/perf/profile.md, with the raw collapsed stacks
beside it (profile-<process>.txt, not committed: ``inferno`` or
``flamegraph.pl`` draw them).
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bench.perf import bots as bots_module
from bench.perf.load import session, step, warm_up
from bench.perf.profile_parts import classify
from kefu.core.config import PROJECT_ROOT

REPORTS = PROJECT_ROOT / "reports" / "perf"


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(bots_module.commands.PYTHON).parent / "py-spy")
    if not Path(found).exists():
        raise RuntimeError("py-spy is not installed: make install (requirements.lock)")
    return found


def record(pid: int, seconds: float, out: Path, rate: int) -> subprocess.Popen:
    return subprocess.Popen([py_spy(), "record", "--pid", str(pid), "--duration", str(int(seconds)),
                             "--rate", str(rate), "--format", "raw", "--nonblocking", "--subprocesses",
                             "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def collapsed(path: Path) -> List[Tuple[str, int]]:
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            rows.append((stack, int(count)))
    return rows


def shares(rows: List[Tuple[str, int]]) -> Dict[str, float]:
    totals: Counter = Counter()
    for stack, count in rows:
        totals[classify(stack)] += count
    whole = sum(totals.values()) or 1
    return {part: round(100 * n / whole, 1) for part, n in totals.most_common()}


def markdown(result: Dict[str, Dict[str, float]], offered: float, seconds: float, cpu_ms: Optional[float],
             cpu_split: Dict[str, float]) -> str:
    lines = [
        "# Where a reply's CPU goes",
        "",
        f"`python -m bench.perf.profile`: Kefu (`make run`'s processes, SQLite) under {offered:g} turns/s of "
        f"open-loop load for {seconds:g} s, sampled by py-spy (non-blocking, idle frames excluded). "
        f"CPU per reply in that run: {cpu_ms} ms ({', '.join(f'{k} {v} ms' for k, v in cpu_split.items())}). "
        "Each sample is counted once, under the first frame of its stack (from the leaf) that names a part.",
        "",
    ]
    for process, table in result.items():
        lines += [f"## {process}", "", "| part | share of samples % |", "| --- | --- |"]
        lines += [f"| {part} | {share} |" for part, share in table.items()]
        lines.append("")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> None:
    bot = bots_module.prepare(["kefu"], args.kefu_model)["kefu"]
    bots_module.require_free_ports()
    running = bot.start(bots_module.CACHE / "runs" / "profile")
    try:
        async with session() as client:
            await warm_up(client, running, "profile-warm", conversations=3)
            pids = running.pids()
            args.out.mkdir(parents=True, exist_ok=True)
            outputs = {name: args.out / f"profile-{name}.txt" for name in pids}
            spies = [record(pid, args.seconds, outputs[name], args.rate) for name, pid in pids.items()]
            row = await step(client, running, args.turns_per_s, args.seconds, "profile")
            for spy in spies:
                spy.wait(timeout=args.seconds + 60)
    finally:
        running.stop()
    result = {name: shares(collapsed(path)) for name, path in outputs.items() if path.exists()}
    split = {p: v for p, v in row.as_json()["cpu_ms_per_reply_by_process"].items() if v is not None}
    (args.out / "profile.md").write_text(markdown(result, args.turns_per_s, args.seconds, row.cpu_ms_per_reply,
                                                  split), encoding="utf-8")
    print((args.out / "profile.md").read_text(encoding="utf-8"))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="py-spy profile of Kefu under load")
    parser.add_argument("--kefu-model", type=Path)
    parser.add_argument("--turns-per-s", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--out", type=Path, default=REPORTS)
    asyncio.run(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``make bench-perf``: Kefu against Rasa's default config on Kefu's data and
the ``rasa init`` bot, one after the other in one run, on the same machine.

Per bot: a warm-up, one shopper at a time (the cost of a reply with nothing
else running), the open-loop ramp of offered load (bench.perf.load), the
long conversation and the burst (bench.perf.scenarios). The machine is
shared and noisy, so the figures that matter are the ratios between bots
measured side by side, written to reports/perf/benchmark.{json,md} with a
plot of latency against offered load.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench.perf import bots as bots_module
from bench.perf.bots import Bot, Running
from bench.perf.load import Step, converse, percentile, ramp, session, warm_up
from bench.perf.meter import StepMeter
from bench.perf.scenarios import burst, burst_summary, long_conversation
from kefu.core.config import PROJECT_ROOT

REPORTS = PROJECT_ROOT / "reports" / "perf"
RATES = (4.0, 8.0, 16.0, 24.0, 32.0, 40.0, 48.0, 64.0, 80.0)


async def one_at_a_time(running: Running, conversations: int, tag: str) -> Dict[str, Any]:
    """Conversations one after the other: latency and CPU per reply with no queue."""
    async with session() as client:
        meter = StepMeter(running.pids())
        record: List[Any] = []
        origin = time.perf_counter()
        for number in range(conversations):
            await converse(client, running, f"{tag}-{number}", number, origin, record)
        usage = meter.stop()
    latencies = [t.latency for t in record]
    replies = sum(1 for t in record if t.outcome == "ok")
    return {
        "turns": len(record), "replies": replies,
        "p50_ms": round(1000 * (percentile(latencies, 0.5) or 0), 1),
        "p95_ms": round(1000 * (percentile(latencies, 0.95) or 0), 1),
        "cpu_ms_per_reply": round(usage.total_cpu_s * 1000 / replies, 1) if replies else None,
        "cpu_ms_per_reply_by_process": {p: round(s * 1000 / replies, 1) for p, s in usage.cpu_s.items()}
        if replies else {},
        "rss_max_mb": usage.rss_max_mb,
    }


def saturation(steps: Sequence[Step]) -> float:
    """The most good replies per second any step achieved."""
    return max((s.achieved_replies_per_s for s in steps), default=0.0)


def at_half(steps: Sequence[Step]) -> Optional[Step]:
    """The highest step offered at most half the saturation rate."""
    half = saturation(steps) / 2
    below = [s for s in steps if s.offered_turns_per_s <= half]
    return below[-1] if below else None


async def measure(bot: Bot, args: argparse.Namespace) -> Dict[str, Any]:
    workdir = bots_module.CACHE / "runs" / bot.name
    bots_module.require_free_ports()
    print(f"{bot.name}: starting ({bot.model})", flush=True)
    running = bot.start(workdir)
    try:
        async with session() as client:
            await warm_up(client, running, f"{bot.name}-warm")
        single = await one_at_a_time(running, args.single, f"{bot.name}-one")
        print(f"  one at a time: p50 {single['p50_ms']} ms, p95 {single['p95_ms']} ms, "
              f"CPU {single['cpu_ms_per_reply']} ms/reply", flush=True)
        async with session() as client:
            steps = await ramp(client, running, args.rates, args.step_seconds, f"{bot.name}-load")
            await asyncio.sleep(3)
            long = await long_conversation(client, running, args.long_turns, args.session_every,
                                           args.long_repeats, f"{bot.name}-long")
            bursts = await burst(client, running, args.burst_repeats, f"{bot.name}-burst")
        rss = max((max(s.rss_max_mb.values(), default=0.0) for s in steps), default=0.0)
        rasa_rss = max((s.rss_max_mb.get("rasa", 0.0) for s in steps), default=0.0)
    finally:
        running.stop()
    half = at_half(steps)
    result = {
        "model": str(bot.model.relative_to(PROJECT_ROOT)) if bot.model.is_relative_to(PROJECT_ROOT) else str(bot.model),
        "script": list(bot.script.turns),
        "one_at_a_time": single,
        "saturation_replies_per_s": saturation(steps),
        "half_load": None if half is None else {"offered_turns_per_s": half.offered_turns_per_s,
                                                 "p50_ms": half.p50_ms, "p99_ms": half.p99_ms,
                                                 "cpu_ms_per_reply": half.cpu_ms_per_reply},
        "rss_max_mb": round(rss, 1), "rasa_rss_max_mb": round(rasa_rss, 1),
        "long_conversation": long.as_json(cycle=len(bot.script.turns)),
        "burst": burst_summary(bursts),
        "steps": [s.as_json() for s in steps],
    }
    long_json = result["long_conversation"]
    print(f"  saturation {result['saturation_replies_per_s']} replies/s; long conversation CPU "
          f"last/turn2 {long_json['cpu_last_over_turn2']}, last cycle/first {long_json['cpu_last_cycle_over_first']}; "
          f"burst both replied {result['burst']['both_replied']}/{args.burst_repeats}", flush=True)
    return result


async def measure_long(bot: Bot, args: argparse.Namespace) -> Dict[str, Any]:
    """The long conversation alone (``--long-only``)."""
    bots_module.require_free_ports()
    running = bot.start(bots_module.CACHE / "runs" / bot.name)
    try:
        async with session() as client:
            await warm_up(client, running, f"{bot.name}-warm")
            long = await long_conversation(client, running, args.long_turns, args.session_every,
                                           args.long_repeats, f"{bot.name}-long")
    finally:
        running.stop()
    result = long.as_json(cycle=len(bot.script.turns))
    print(f"{bot.name}: long conversation CPU last/turn2 {result['cpu_last_over_turn2']}, last cycle/first "
          f"{result['cpu_last_cycle_over_first']}, sessions {result['sessions_found']} of "
          f"{result['sessions_expected']}, outcomes {result['outcomes']}", flush=True)
    return result


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return round(a / b, 2) if a and b else None


def ratios(results: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Optional[float]]]:
    """Kefu over each peer: CPU per reply (one at a time) and saturation."""
    kefu = results.get("kefu")
    if not kefu:
        return {}
    out = {}
    for peer in ("default-config", "rasa-init"):
        if peer in results:
            other = results[peer]
            out[peer] = {
                "cpu_per_reply": _ratio(kefu["one_at_a_time"]["cpu_ms_per_reply"],
                                        other["one_at_a_time"]["cpu_ms_per_reply"]),
                "p50_one_at_a_time": _ratio(kefu["one_at_a_time"]["p50_ms"], other["one_at_a_time"]["p50_ms"]),
                "saturation": _ratio(kefu["saturation_replies_per_s"], other["saturation_replies_per_s"]),
            }
    return out


def markdown(report: Dict[str, Any]) -> str:
    results: Dict[str, Dict[str, Any]] = report["bots"]
    lines = [
        "# Reply cost, side by side",
        "",
        f"Measured {report['measured']} on this machine ({report['cpus']} cores), one bot after the other in one run "
        "(`make bench-perf`). REST, SQLite tracker store; Kefu and default-config are served by Kefu's embedded "
        "launcher (action server included), `rasa init` by `rasa run`. CPU is the kernel's accounting of every "
        "process of the bot (Rasa and the action server), divided by the good replies.",
        "",
        "| bot | one at a time p50 / p95 ms | CPU ms/reply | saturation replies/s | at half: offered, p99 ms "
        "| RSS max MB (rasa) | long conv. CPU last/turn 2 | last cycle / first | burst both replied |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        one, half, long = r["one_at_a_time"], r["half_load"] or {}, r["long_conversation"]
        lines.append(
            f"| {name} | {one['p50_ms']} / {one['p95_ms']} | {one['cpu_ms_per_reply']} | "
            f"{r['saturation_replies_per_s']} | {half.get('offered_turns_per_s', '–')}, {half.get('p99_ms', '–')} | "
            f"{r['rss_max_mb']} ({r['rasa_rss_max_mb']}) | {long['cpu_last_over_turn2']} | "
            f"{long['cpu_last_cycle_over_first']} | {r['burst']['both_replied']}/{r['burst']['repeats']} |")
    if report["ratios"]:
        lines += ["", "Kefu over each peer (lower CPU is better, higher saturation is better):", "",
                  "| peer | CPU per reply | p50 one at a time | saturation |", "| --- | --- | --- | --- |"]
        for peer, q in report["ratios"].items():
            lines.append(f"| {peer} | {q['cpu_per_reply']}× | {q['p50_one_at_a_time']}× | {q['saturation']}× |")
    when = f" (measured {report['long_conversation_measured']})" if report.get("long_conversation_measured") else ""
    lines += ["", f"Long conversation{when}: one sender, a new session every few turns, one turn at a time; "
              "median over the repeats, CPU in the kernel's 10 ms ticks. Sessions started as asked, and what the "
              "turns got back:", ""]
    for name, r in results.items():
        long = r["long_conversation"]
        lines.append(f"- **{name}**: {long['turns']} turns, a session every {long['session_every']}; sessions "
                     f"{long['sessions_found']} of {long['sessions_expected']}; outcomes {long['outcomes']}; "
                     f"CPU turn 2 {long['median_cpu_ms'][1]} ms, last turn {long['median_cpu_ms'][-1]} ms")
    lines += ["", "Steps of offered load (turns/s offered → replies/s, p50 / p99 ms, errors, CPU ms/reply):", ""]
    for name, r in results.items():
        lines.append(f"- **{name}**: " + "; ".join(
            f"{s['offered_turns_per_s']:g} → {s['achieved_replies_per_s']}, {s['p50_ms']} / {s['p99_ms']}, "
            f"{s['error_rate']:.1%}, {s['cpu_ms_per_reply']}" for s in r["steps"]))
    lines += ["", "![latency against offered load](latency.png)", ""]
    return "\n".join(lines)


def plot(report: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 5))
    for name, r in report["bots"].items():
        offered = [s["offered_turns_per_s"] for s in r["steps"]]
        line, = axis.plot(offered, [s["p50_ms"] for s in r["steps"]], marker="o", label=f"{name} p50")
        axis.plot(offered, [s["p99_ms"] for s in r["steps"]], marker="x", linestyle="--", color=line.get_color(),
                  label=f"{name} p99")
    axis.set_xlabel("offered load (turns/s, open loop)")
    axis.set_ylabel("latency (ms)")
    axis.set_yscale("log")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    axis.set_title("Latency against offered load")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(report: Dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    report["ratios"] = ratios(report["bots"])
    (out / "benchmark.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "benchmark.md").write_text(markdown(report), encoding="utf-8")
    plot(report, out / "latency.png")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", nargs="+", default=list(bots_module.BOT_NAMES),
                        choices=[*bots_module.BOT_NAMES, *bots_module.VARIANTS, "kefu-ted"])
    parser.add_argument("--kefu-model", type=Path, help="Kefu's model (default models/kefu.tar.gz)")
    parser.add_argument("--rates", type=float, nargs="+", default=list(RATES), help="offered turns/s per step")
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--single", type=int, default=12, help="conversations one at a time")
    parser.add_argument("--long-turns", type=int, default=40)
    parser.add_argument("--session-every", type=int, default=5,
                        help="turns per session: 5 is one scripted conversation per visit (a returning shopper)")
    parser.add_argument("--long-only", action="store_true",
                        help="measure only the long conversation, into the report already in --out")
    parser.add_argument("--long-repeats", type=int, default=3)
    parser.add_argument("--burst-repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=REPORTS)
    args = parser.parse_args(argv)
    report: Dict[str, Any] = {"measured": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                              "cpus": os.cpu_count(), "arguments": {k: str(v) for k, v in vars(args).items()},
                              "bots": {}}
    prepared = bots_module.prepare(args.bots, args.kefu_model)
    if args.long_only:
        report = json.loads((args.out / "benchmark.json").read_text(encoding="utf-8"))
        report["long_conversation_measured"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    for name, bot in prepared.items():
        if args.long_only:
            report["bots"][name]["long_conversation"] = asyncio.run(measure_long(bot, args))
        else:
            report["bots"][name] = asyncio.run(measure(bot, args))
        write(report, args.out)
    print(f"wrote {args.out / 'benchmark.md'}: {json.dumps(report['ratios'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

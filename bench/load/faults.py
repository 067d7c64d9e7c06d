"""Fault test of the production profile under load: `make bench-faults`.

2 Rasa instances, 2 action servers, nginx, a private Redis (append-only) and
a private PostgreSQL (Debian's initdb/pg_ctl, port 5441) so that stopping
them disturbs nothing else; RabbitMQ is the machine's. Locust shoppers talk
all along (locustfile.py) while, one after the other:

1. one Rasa instance is killed (SIGKILL) and started again;
2. Redis is restarted (shutdown, start; the trackers persist in its AOF);
3. both action servers are stopped for 10 s, then started again;
4. PostgreSQL is stopped for 10 s, then started again.

Every reply is classified: ok, polite (the shopper was told to try again),
or a failure (an error status without the polite text, an empty 200 reply:
a silent loss). Afterwards every conversation's tracker is checked, and every
server process must still be running. Writes reports/faults/.

    python -m bench.load.faults [--users 12]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict

from bench.load.infra import WORK, PrivatePostgres, PrivateRedis, check_trackers, read_log, summarize
from bench.load.run import RABBITMQ_URL, locust
from kefu.core.config import PROJECT_ROOT
from kefu.ops.production import Layout
from tests.support.cluster import Cluster

REPORTS = PROJECT_ROOT / "reports" / "faults"


def markdown(s: dict, args) -> str:
    lines = ["# Fault test: production profile under load", "",
             f"`python -m bench.load.faults --users {args.users}`: 2 Rasa instances, 2 action servers, nginx, "
             "private Redis (append-only) and PostgreSQL, RabbitMQ; locust shoppers all along (a polite failure "
             "is retried by the shopper after 1.5 s, up to 3 attempts per message). "
             f"Host load average at the end: {s['host_load_average_1m_at_end']} (2 cores, shared).", "",
             "## Timeline", "", "| t (s) | event |", "| --- | --- |"]
    lines += [f"| {e['t']} | {e['event']} |" for e in s["timeline"]]
    lines += ["", "## Replies during each fault (from the fault until recovery)", "",
              "| fault | window (s) | replies | outcomes |", "| --- | --- | --- | --- |"]
    for name, p in s["phases"].items():
        lines.append(f"| {name} | {p['window_s'][0]}-{p['window_s'][1]} | {p['replies']} | {p['outcomes']} |")
    lines.append(f"| (outside the faults) | | {sum(s['outside_faults'].values())} | {s['outside_faults']} |")
    c = s["tracker_check"]
    lines += ["", "## Totals", "",
              f"* requests: {s['requests']}, outcomes {s['outcomes']}; ok replies p50 {s['p50_ms']:.0f} ms, "
              f"p95 {s['p95_ms']:.0f} ms, p99 {s['p99_ms']:.0f} ms",
              f"* silent losses (200 with no reply): {s['silent_losses']}; "
              f"errors without the polite text: {s['unpolite_errors']}",
              f"* conversations: {s['conversations_started']} started, "
              f"{s['conversations_completed']} completed (order found "
              f"and thanked); {s['conversations_hit_by_a_fault']} hit by a fault, "
              f"{s['of_which_completed']} of them completed",
              f"* processes alive at the end: {s['processes_alive_at_end']}",
              f"* tracker check: {c['conversations']} conversations, {c['user_events']} user events, lost {c['lost']}, "
              f"duplicated {c['duplicated']}, out of order {c['out_of_order']}, unanswered {c['unanswered']}, "
              f"failed attempts that are nevertheless in the tracker {c['failed_attempts_in_tracker']}, unreadable "
              f"{c['trackers_unreadable']}", ""]
    if c["problems"]:
        lines += ["Problems:", ""] + [f"* {p}" for p in c["problems"]] + [""]
    lines += ["## Examples", ""]
    for outcome, row in s["examples"].items():
        if row:
            lines.append(f"* {outcome}: status {row['status']}, replies {row['replies']}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=12)
    parser.add_argument("--outage", type=float, default=10.0)
    args = parser.parse_args(argv)
    run_dir = WORK / "faults"
    redis = PrivateRedis(6392, WORK / "redis-faults")
    postgres = PrivatePostgres(5441, WORK / "pg-faults")
    postgres.init()
    redis.start()
    layout = Layout.default(2, 2, port=7305, action_port=7355, desk_port=None, run_dir=run_dir)
    cluster = Cluster.create(layout, {"DATABASE_URL": postgres.url, "REDIS_URL": redis.url,
                                      "RABBITMQ_URL": RABBITMQ_URL, "KEFU_EVENTS_QUEUE": "kefu_events_faults"})
    timeline: list = []
    t0 = [0.0]

    def mark(what: str, **extra) -> None:
        timeline.append({"t": round(time.monotonic() - t0[0], 1), "event": what, **extra})
        print(f"  t={timeline[-1]['t']:6.1f}s  {what}", flush=True)

    log = run_dir / "shoppers.jsonl"
    log.unlink(missing_ok=True)
    try:
        print("starting 2 Rasa + 2 action servers ...", flush=True)
        cluster.start(timeout=600)
        t0[0] = time.monotonic()
        wall0 = time.time()
        seconds = 300
        runner = locust(layout.url, args.users, seconds, log, "faults", run_dir / "locust")
        mark("load started", users=args.users)

        def at(t: float) -> None:
            time.sleep(max(0.0, t - (time.monotonic() - t0[0])))

        windows = {}
        # 1. a Rasa instance crashes
        at(25)
        start = time.monotonic() - t0[0]
        cluster.kill("rasa1")
        mark("rasa1 killed (SIGKILL)")
        cluster.spawn("rasa1")
        mark("rasa1 starting again")
        cluster.wait(["rasa1"], timeout=400)
        mark("rasa1 answers again")
        windows["kill one Rasa instance"] = (start, time.monotonic() - t0[0])
        # 2. Redis restarts
        at(max(time.monotonic() - t0[0] + 15, 110))
        start = time.monotonic() - t0[0]
        redis.stop()
        mark("redis stopped")
        redis.start()
        mark("redis started again")
        windows["restart Redis"] = (start, time.monotonic() - t0[0] + 5)
        # 3. the action servers stop
        at(max(time.monotonic() - t0[0] + 20, 150))
        start = time.monotonic() - t0[0]
        cluster.terminate("actions1")
        cluster.terminate("actions2")
        mark("both action servers stopped")
        time.sleep(args.outage)
        cluster.spawn("actions1")
        cluster.spawn("actions2")
        cluster.wait(["actions1", "actions2"], timeout=120)
        mark("action servers answer again")
        windows["stop the action servers"] = (start, time.monotonic() - t0[0] + 3)
        # 4. PostgreSQL stops for 10 s
        at(max(time.monotonic() - t0[0] + 20, 200))
        start = time.monotonic() - t0[0]
        postgres.stop()
        mark("postgresql stopped")
        time.sleep(args.outage)
        postgres.start()
        mark("postgresql started again")
        windows["stop PostgreSQL 10 s"] = (start, time.monotonic() - t0[0] + 3)
        runner.wait(timeout=seconds + 300)
        mark("load finished")
        alive = cluster.alive()
        rows = read_log(log)
        for r in rows:
            r["t"] = r["started"] - wall0
        phases = {}
        for name, (a, b) in windows.items():
            inside = [r for r in rows if a <= r["t"] <= b]
            outcomes = defaultdict(int)
            for r in inside:
                outcomes[r["outcome"]] += 1
            phases[name] = {"window_s": [round(a, 1), round(b, 1)], "replies": len(inside), "outcomes": dict(outcomes)}
        calm = [r for r in rows if not any(a <= r["t"] <= b for a, b in windows.values())]
        calm_outcomes = defaultdict(int)
        for r in calm:
            calm_outcomes[r["outcome"]] += 1
        summary = summarize(rows, time.monotonic() - t0[0])
        conversations = defaultdict(list)
        for r in rows:
            conversations[r["sender"]].append(r)
        hit = [rs for rs in conversations.values() if any(r["outcome"] != "ok" for r in rs)]
        hit_done = sum(1 for rs in hit if any(r["turn"] == 4 and r["outcome"] == "ok" for r in rs))
        summary.update(
            host_load_average_1m_at_end=round(os.getloadavg()[0], 2),
            timeline=timeline, phases=phases, outside_faults=dict(calm_outcomes), processes_alive_at_end=alive,
            conversations_hit_by_a_fault=len(hit), of_which_completed=hit_done,
            tracker_check=check_trackers(layout.api_url, rows),
            silent_losses=sum(1 for r in rows if r["outcome"] in ("silent",)),
            unpolite_errors=sum(1 for r in rows if r["outcome"] in ("error", "wrong")),
            examples={o: next((r for r in rows if r["outcome"] == o), None)
                      for o in ("polite", "error", "wrong", "silent")},
        )
        REPORTS.mkdir(parents=True, exist_ok=True)
        (REPORTS / "results.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
        (REPORTS / "README.md").write_text(markdown(summary, args), encoding="utf-8")
        print(json.dumps({k: v for k, v in summary.items() if k != "examples"}, indent=2, ensure_ascii=False))
        c = summary["tracker_check"]
        return 1 if summary["silent_losses"] or c["lost"] or c["duplicated"] or c["out_of_order"] else 0
    finally:
        cluster.stop()
        redis.stop()
        postgres.stop("immediate")


if __name__ == "__main__":
    sys.exit(main())

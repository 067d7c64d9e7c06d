"""Load benchmark of the production profile: `make bench-load`.

For 1 and then 2 Rasa instances (2 action servers, nginx, a private Redis
with append-only persistence, PostgreSQL database kefu_prod_test, RabbitMQ),
locust runs many concurrent shoppers through the balancer (see
locustfile.py); meanwhile every process's CPU and memory is sampled. Then
every conversation's tracker is checked against what the shoppers saw.
Writes reports/load/results.json and reports/load/README.md.

    python -m bench.load.run [--users 30] [--seconds 90] [--instances 1 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.load.infra import WORK, PrivateRedis, Sampler, check_trackers, read_log, server_pids, summarize
from kefu.core.config import PROJECT_ROOT
from kefu.ops.production import Layout
from tests.support.cluster import Cluster

REPORTS = PROJECT_ROOT / "reports" / "load"
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PG_URL = os.environ.get("KEFU_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/kefu_prod_test")
RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def locust(host: str, users: int, seconds: int, log: Path, run_id: str, csv_prefix: Path) -> subprocess.Popen:
    env = {**os.environ, "KEFU_BENCH_LOG": str(log), "KEFU_BENCH_RUN": run_id}
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "locust"), "-f", str(LOCUSTFILE), "--headless", "-u", str(users),
         "-r", str(max(1, users // 10)), "-t", f"{seconds}s", "--host", host, "--csv", str(csv_prefix),
         "--only-summary", "--stop-timeout", "60", "--loglevel", "WARNING"],
        cwd=PROJECT_ROOT, env=env, stdout=open(log.with_suffix(".locust.log"), "ab"), stderr=subprocess.STDOUT)


def one_run(instances: int, actions: int, users: int, seconds: int, redis: PrivateRedis) -> dict:
    run_dir = WORK / f"load-{instances}"
    layout = Layout.default(instances, actions, port=7005, action_port=7055, desk_port=None, run_dir=run_dir)
    cluster = Cluster.create(layout, {"DATABASE_URL": PG_URL, "REDIS_URL": redis.url, "RABBITMQ_URL": RABBITMQ_URL,
                                      "KEFU_EVENTS_QUEUE": "kefu_events_bench"})
    print(f"[{instances} instance(s)] starting {instances} Rasa + {actions} action servers ...", flush=True)
    started = time.monotonic()
    cluster.start(timeout=600)
    print(f"[{instances} instance(s)] up in {time.monotonic() - started:.0f} s; {users} shoppers for {seconds} s",
          flush=True)
    log = run_dir / "shoppers.jsonl"
    log.unlink(missing_ok=True)
    try:
        sampler = Sampler({**cluster.pids(), "redis": redis.process.pid, **server_pids()})
        sampler.start()
        t0 = time.monotonic()
        runner = locust(layout.url, users, seconds, log, f"n{instances}", run_dir / "locust")
        sampler.update({"locust": runner.pid})
        runner.wait(timeout=seconds + 240)
        duration = time.monotonic() - t0
        resources = sampler.stop()
        rows = read_log(log)
        summary = summarize(rows, min(duration, seconds))
        print(f"[{instances} instance(s)] checking {summary['conversations_started']} trackers ...", flush=True)
        summary["tracker_check"] = check_trackers(layout.api_url, rows)
        summary["resources"] = resources
        summary.update(instances=instances, action_servers=actions, users=users,
                       host_load_average_1m_at_end=round(os.getloadavg()[0], 2))
        return summary
    finally:
        cluster.stop()


def markdown(results: list, args: argparse.Namespace) -> str:
    lines = [
        "# Load test: production profile (REST through nginx)",
        "",
        f"`python -m bench.load.run --users {args.users} --seconds {args.seconds}` on this machine "
        f"(2 cores, shared with the load generator and the servers). Each shopper runs whole conversations "
        "(你好 → 我的订单到哪了 → 2611010000000001 → 5678 (reply must contain 运输中) → 谢谢), each with a new "
        "sender, think time 0.5-1.5 s. Latency is per reply (ok replies only).",
        "",
        "| Rasa instances | action servers | shoppers | replies/s | p50 ms | p95 ms | p99 ms | max ms "
        "| requests | outcomes | conversations done | lookups with 运输中 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(f"| {r['instances']} | {r['action_servers']} | {r['users']} | {r['throughput_rps']} | "
                     f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {r['max_ms']} | "
                     f"{r['requests']} | {r['outcomes']} | "
                     f"{r['conversations_completed']}/{r['conversations_started']} | {r['order_lookups_ok']} |")
    if len(results) > 1 and results[0]["throughput_rps"]:
        first, last = results[0], results[-1]
        host = last["resources"].get("host (every process)", {}).get("cpu_avg_pct")
        rasa = [f"{v['cpu_avg_pct']} %" for k, v in sorted(last["resources"].items()) if k.startswith("rasa")]
        lines += ["", f"{last['instances']} instances / {first['instances']}: "
                  f"{last['throughput_rps'] / first['throughput_rps']:.2f}× the replies per second. "
                  f"With {last['instances']} instances the machine was busy {host} % of its "
                  f"{100 * (os.cpu_count() or 1)} % (% of one core, every process, the load generator included) "
                  f"while the Rasa instances used {', '.join(rasa)} of a core each: they share the machine's "
                  "cores with the action servers, the databases, the broker and the load generator."]
    lines += ["", "## CPU (% of one core) and memory per process", ""]
    for r in results:
        lines += [f"**{r['instances']} Rasa instance(s)**", "",
                  "| process | CPU avg % | CPU max % | RSS avg MB | RSS max MB |",
                  "| --- | --- | --- | --- | --- |"]
        for name, res in sorted(r["resources"].items()):
            lines.append(f"| {name} | {res['cpu_avg_pct']} | {res['cpu_max_pct']} | "
                         f"{res['rss_avg_mb']} | {res['rss_max_mb']} |")
        lines.append("")
    lines += ["## Tracker check (every conversation, after the run)", "",
              "| Rasa instances | conversations | user events | lost | duplicated | out of order "
              "| unanswered | unreadable |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        c = r["tracker_check"]
        lines.append(f"| {r['instances']} | {c['conversations']} | {c['user_events']} | {c['lost']} | "
                     f"{c['duplicated']} | {c['out_of_order']} | {c['unanswered']} | {c['trackers_unreadable']} |")
    lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=90)
    parser.add_argument("--actions", type=int, default=2)
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    redis = PrivateRedis(6391, WORK / "redis-load")
    redis.start()
    results = []
    try:
        for n in args.instances:
            results.append(one_run(n, args.actions, args.users, args.seconds, redis))
            REPORTS.mkdir(parents=True, exist_ok=True)
            (REPORTS / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
            (REPORTS / "README.md").write_text(markdown(results, args), encoding="utf-8")
    finally:
        redis.stop()
    print((REPORTS / "README.md").read_text(encoding="utf-8"))
    bad = sum(r["tracker_check"]["lost"] + r["tracker_check"]["duplicated"] + r["tracker_check"]["out_of_order"]
              for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

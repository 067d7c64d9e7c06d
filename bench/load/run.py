"""Load benchmark of the production profile: `make bench-load`.

For 1 and then 2 Rasa instances (2 action servers, nginx, a private Redis
with append-only persistence, PostgreSQL database kefu_prod_test, RabbitMQ),
locust runs many concurrent shoppers through the balancer (see
locustfile.py); meanwhile every process's CPU and memory is sampled. Then
every conversation's tracker is checked against what the shoppers saw.
Writes reports/load/results.json and reports/load/README.md.

Each pair of runs is made twice: with the Rasa instances free to take the
whole machine, and with each held to the same CPU budget (``--rasa-cpus``,
a cgroup quota like a container's CPU limit). On a machine of 2 cores the
first is bounded by the machine itself (the load generator, the action
servers and the databases share the same cores); the second shows whether
the Rasa tier scales when every instance has its share of cores.

    python -m bench.load.run [--users 120] [--seconds 60] [--instances 1 2] [--rasa-cpus 0 0.4]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

from bench.load.infra import (
    WORK,
    CpuLimit,
    PrivateRedis,
    Sampler,
    check_trackers,
    read_log,
    server_pids,
    steady_throughput,
    summarize,
)
from kefu.core.config import PROJECT_ROOT
from kefu.ops.production import Layout
from tests.support.cluster import Cluster

REPORTS = PROJECT_ROOT / "reports" / "load"
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PG_URL = os.environ.get("KEFU_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/kefu_prod_test")
RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def spawn_rate(users: int) -> int:
    """Shoppers started per second: all of them within about 10 s."""
    return max(1, users // 10)


def locust(host: str, users: int, seconds: int, log: Path, run_id: str, csv_prefix: Path) -> subprocess.Popen:
    env = {**os.environ, "KEFU_BENCH_LOG": str(log), "KEFU_BENCH_RUN": run_id}
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "locust"), "-f", str(LOCUSTFILE), "--headless", "-u", str(users),
         "-r", str(spawn_rate(users)), "-t", f"{seconds}s", "--host", host, "--csv", str(csv_prefix),
         "--only-summary", "--stop-timeout", "60", "--loglevel", "WARNING"],
        cwd=PROJECT_ROOT, env=env, stdout=open(log.with_suffix(".locust.log"), "ab"), stderr=subprocess.STDOUT)


def limit_rasa(pids: Dict[str, int], cpus: Optional[float], limits: Dict[str, CpuLimit]) -> None:
    """Each Rasa instance in a CPU budget of its own (none when ``cpus`` is
    None), each added to ``limits`` as soon as it exists, so that the caller
    releases every one made even when a later one fails."""
    for name, pid in pids.items():
        if cpus and name.startswith("rasa"):
            limits[name] = CpuLimit(f"kefu-bench-{name}", cpus)
            limits[name].apply(pid)


def one_run(instances: int, actions: int, users: int, seconds: int, redis: PrivateRedis,
            rasa_cpus: Optional[float] = None) -> dict:
    run_dir = WORK / f"load-{instances}"
    layout = Layout.default(instances, actions, port=7005, action_port=7055, desk_port=None, run_dir=run_dir)
    cluster = Cluster.create(layout, {"DATABASE_URL": PG_URL, "REDIS_URL": redis.url, "RABBITMQ_URL": RABBITMQ_URL,
                                      "KEFU_EVENTS_QUEUE": "kefu_events_bench"})
    tag = f"[{instances} instance(s), Rasa CPU limit {rasa_cpus or 'none'}]"
    print(f"{tag} starting {instances} Rasa + {actions} action servers ...", flush=True)
    started = time.monotonic()
    cluster.start(timeout=600)
    print(f"{tag} up in {time.monotonic() - started:.0f} s; {users} shoppers for {seconds} s", flush=True)
    log = run_dir / "shoppers.jsonl"
    log.unlink(missing_ok=True)
    limits: Dict[str, CpuLimit] = {}
    try:
        limit_rasa(cluster.pids(), rasa_cpus, limits)
        sampler = Sampler({**cluster.pids(), "redis": redis.process.pid, **server_pids()})
        sampler.start()
        t0, wall0 = time.monotonic(), time.time()
        runner = locust(layout.url, users, seconds, log, f"n{instances}", run_dir / "locust")
        sampler.update({"locust": runner.pid})
        runner.wait(timeout=seconds + 240)
        duration = time.monotonic() - t0
        resources = sampler.stop()
        rows = read_log(log)
        # every ok reply over the whole time they took: ramp, run and the drain of the queue after it
        summary = summarize(rows, duration)
        ramp = users / spawn_rate(users) + 2  # every shopper started, and their first reply
        summary["steady_rps"] = steady_throughput(rows, wall0 + ramp, wall0 + seconds)
        summary["rasa_throttled_s"] = {name: round(limit.throttled_s(), 1) for name, limit in limits.items()}
        print(f"{tag} checking {summary['conversations_started']} trackers ...", flush=True)
        summary["tracker_check"] = check_trackers(layout.api_url, rows)
        summary["resources"] = resources
        summary.update(instances=instances, action_servers=actions, users=users, rasa_cpus=rasa_cpus,
                       host_load_average_1m_at_end=round(os.getloadavg()[0], 2))
        return summary
    finally:
        cluster.stop()
        for limit in limits.values():
            limit.release()


def limit_label(cpus: Optional[float]) -> str:
    return f"{cpus} core each" if cpus else "none (the whole machine)"


def ratio_line(group: List[dict]) -> str:
    """How many times one instance's replies per second the last run made,
    and what bounded it."""
    first, last = group[0], group[-1]
    host = last["resources"].get("host (every process)", {}).get("cpu_avg_pct")
    rasa = ", ".join(f"{v['cpu_avg_pct']} %" for k, v in sorted(last["resources"].items()) if k.startswith("rasa"))
    line = (f"**Rasa CPU limit {limit_label(last['rasa_cpus'])}: {last['instances']} instances / "
            f"{first['instances']} = {last['steady_rps'] / first['steady_rps']:.2f}× the replies per "
            f"second, steady state.** With {last['instances']} instances the machine was busy {host} % of its "
            f"{100 * (os.cpu_count() or 1)} % (% of one core, every process, the load generator included); "
            f"the Rasa instances used {rasa} of a core each.")
    throttled = last.get("rasa_throttled_s") or {}
    if throttled:
        line += (" The kernel held them back for their budget " + ", ".join(f"{v} s" for _, v in
                                                                         sorted(throttled.items()))
                 + " of the run: an instance held back is one that used its whole budget.")
    return line


def markdown(results: List[dict], args: argparse.Namespace) -> str:
    lines = [
        "# Load test: production profile (REST through nginx)",
        "",
        f"`python -m bench.load.run --users {args.users} --seconds {args.seconds} --rasa-cpus "
        f"{' '.join(str(c) for c in args.rasa_cpus)}` on this machine "
        f"({os.cpu_count()} cores, shared with the load generator and the servers). Each shopper runs whole "
        "conversations (你好 → 我的订单到哪了 → 2611010000000001 → 5678 (reply must contain 运输中) → 谢谢), each with "
        "a new sender, think time 0.5-1.5 s. Latency is per reply (ok replies only). Steady state is from "
        "when every shopper has started (after the ramp of about 10 s) to the end of the run; the whole run "
        "counts every ok reply over the ramp, the run and the queue drained after it. A Rasa CPU limit is a cgroup "
        "quota on each Rasa instance, as a container's CPU limit would set it; the other processes are never "
        "limited.",
        "",
        "| Rasa CPU limit | Rasa instances | action servers | shoppers | replies/s steady | replies/s whole run "
        "| p50 ms | p95 ms | p99 ms "
        "| max ms | requests | outcomes | conversations done | lookups with 运输中 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(f"| {limit_label(r['rasa_cpus'])} | {r['instances']} | {r['action_servers']} | {r['users']} | "
                     f"{r['steady_rps']} | {r['throughput_rps']} | "
                     f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} | "
                     f"{r['max_ms']} | {r['requests']} | {r['outcomes']} | "
                     f"{r['conversations_completed']}/{r['conversations_started']} | {r['order_lookups_ok']} |")
    for group in groups(results):
        if len(group) > 1 and group[0]["steady_rps"]:
            lines += ["", ratio_line(group)]
    lines += ["", "## CPU (% of one core) and memory per process", ""]
    for r in results:
        lines += [f"**{r['instances']} Rasa instance(s), Rasa CPU limit {limit_label(r['rasa_cpus'])}**", "",
                  "| process | CPU avg % | CPU max % | RSS avg MB | RSS max MB |",
                  "| --- | --- | --- | --- | --- |"]
        for name, res in sorted(r["resources"].items()):
            lines.append(f"| {name} | {res['cpu_avg_pct']} | {res['cpu_max_pct']} | "
                         f"{res['rss_avg_mb']} | {res['rss_max_mb']} |")
        lines.append("")
    lines += ["## Tracker check (every conversation, after the run)", "",
              "| Rasa CPU limit | Rasa instances | conversations | user events | lost | duplicated | out of order "
              "| unanswered | unreadable |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        c = r["tracker_check"]
        lines.append(f"| {limit_label(r['rasa_cpus'])} | {r['instances']} | {c['conversations']} | "
                     f"{c['user_events']} | {c['lost']} | {c['duplicated']} | {c['out_of_order']} | "
                     f"{c['unanswered']} | {c['trackers_unreadable']} |")
    lines.append("")
    return "\n".join(lines)


def groups(results: List[dict]) -> List[List[dict]]:
    """The runs of each CPU limit, in the order they were made."""
    by_limit: Dict[Optional[float], List[dict]] = {}
    for r in results:
        by_limit.setdefault(r["rasa_cpus"], []).append(r)
    return list(by_limit.values())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=120)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--actions", type=int, default=2)
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rasa-cpus", type=float, nargs="+", default=[0.0, 0.4],
                        help="a CPU budget per Rasa instance, in cores; 0 for none (one pair of runs each)")
    args = parser.parse_args(argv)
    redis = PrivateRedis(6391, WORK / "redis-load")
    redis.start()
    results: List[dict] = []
    try:
        for cpus in args.rasa_cpus:
            for n in args.instances:
                results.append(one_run(n, args.actions, args.users, args.seconds, redis, cpus or None))
                REPORTS.mkdir(parents=True, exist_ok=True)
                (REPORTS / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False),
                                                      encoding="utf-8")
                (REPORTS / "README.md").write_text(markdown(results, args), encoding="utf-8")
    finally:
        redis.stop()
    print((REPORTS / "README.md").read_text(encoding="utf-8"))
    bad = sum(r["tracker_check"]["lost"] + r["tracker_check"]["duplicated"] + r["tracker_check"]["out_of_order"]
              for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""Private servers for the benchmarks: a Redis and (for the fault test) a
PostgreSQL of their own on other ports, so that restarting or stopping them
disturbs nothing else on the machine; plus per-process CPU/memory sampling
and the tracker check shared by the load and fault runs."""
from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

import psutil
import requests

from kefu.core.config import PROJECT_ROOT
from kefu.core.secrets import secret
from kefu.desk.rasa import api_token

WORK = PROJECT_ROOT / "var" / "bench"


class PrivateRedis:
    def __init__(self, port: int, directory: Path) -> None:
        self.port, self.dir = port, directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        # appendonly: a restart keeps the trackers, as a production Redis must
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
            stdout=open(self.dir / "redis.log", "ab"), stderr=subprocess.STDOUT)
        for _ in range(50):
            if subprocess.run(["redis-cli", "-p", str(self.port), "ping"],
                              capture_output=True, text=True).stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            subprocess.run(["redis-cli", "-p", str(self.port), "shutdown"], capture_output=True)
            self.process.wait(timeout=20)


class PrivatePostgres:
    """Debian's initdb/pg_ctl, run as the postgres user, on its own port."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port, self.dir = port, directory
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("no /usr/lib/postgresql/*/bin/pg_ctl")
        self.bin = Path(found[-1]).parent

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/kefu"

    def _as_postgres(self, *args: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(prefix + list(args), capture_output=True, text=True)

    def init(self) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        r = self._as_postgres(str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres",
                              "--auth=trust", "-E", "UTF8")
        if r.returncode:
            raise RuntimeError(r.stderr)
        self.start()
        r = self._as_postgres(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                              "-U", "postgres", "kefu")
        if r.returncode:
            raise RuntimeError(r.stderr)

    def start(self) -> None:
        r = self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-w",
                              "-l", str(self.dir / "pg.log"),
                              "-o", f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1", "start")
        if r.returncode:
            raise RuntimeError(r.stderr + r.stdout)

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", mode, "-w", "stop")


class CpuLimit:
    """A CPU budget for one process, as a container's limit gives it (docker's
    ``--cpus``, a Kubernetes pod's ``limits.cpu``): the kernel's CFS quota on
    a cgroup of its own. With every Rasa instance held to the same budget,
    one instance and two compare as they would on a machine where each has
    its share of cores to itself, not as two processes fighting the load
    generator, the action servers and the databases for the same two cores.
    Needs root and the cgroup cpu controller (v1 or v2)."""

    PERIOD_US = 100_000

    def __init__(self, name: str, cpus: float) -> None:
        if cpus <= 0:
            raise ValueError("a CPU limit must be above 0")
        try:
            self.dir = self._create(name, int(cpus * self.PERIOD_US))
        except OSError as error:
            raise RuntimeError(f"a Rasa CPU limit needs root and the cgroup cpu controller ({error}); "
                               "--rasa-cpus 0 makes the unlimited runs only") from error

    def _create(self, name: str, quota: int) -> Path:
        unified = Path("/sys/fs/cgroup/cgroup.controllers")
        if unified.exists():  # cgroup v2: cpu.max "<quota> <period>"
            root = Path("/sys/fs/cgroup")
            if "cpu" not in (root / "cgroup.subtree_control").read_text().split():
                (root / "cgroup.subtree_control").write_text("+cpu")
            group = root / name
            group.mkdir(exist_ok=True)
            (group / "cpu.max").write_text(f"{quota} {self.PERIOD_US}")
        else:  # cgroup v1: the cpu hierarchy
            group = Path("/sys/fs/cgroup/cpu") / name
            group.mkdir(exist_ok=True)
            (group / "cpu.cfs_period_us").write_text(str(self.PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        return group

    def apply(self, pid: int) -> None:
        """Move the process, every thread of it, into the budget."""
        (self.dir / "cgroup.procs").write_text(str(pid))

    def throttled_s(self) -> float:
        """How long the kernel held the process back for its budget."""
        for line in (self.dir / "cpu.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "throttled_usec":
                return int(value) / 1e6
            if key == "throttled_time":
                return int(value) / 1e9
        return 0.0

    def release(self) -> None:
        """Remove the cgroup once its processes have ended (or move what is
        left back to the parent first)."""
        for pid in (self.dir / "cgroup.procs").read_text().split():
            (self.dir.parent / "cgroup.procs").write_text(pid)
        self.dir.rmdir()


class Sampler(threading.Thread):
    """CPU (% of one core) and RSS of each named process (with children)."""

    def __init__(self, pids: Dict[str, int], every: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.samples: Dict[str, List[tuple]] = defaultdict(list)
        self.procs: Dict[str, List[psutil.Process]] = {}
        self._halt = threading.Event()
        self.update(pids)

    def update(self, pids: Dict[str, int]) -> None:
        for name, pid in pids.items():
            try:
                root = psutil.Process(pid)
                procs = [root] + root.children(recursive=True)
                for p in procs:
                    p.cpu_percent(None)
                self.procs[name] = procs
            except psutil.NoSuchProcess:
                pass

    def run(self) -> None:
        psutil.cpu_percent(None)
        while not self._halt.wait(self.every):
            # the whole machine, in % of one core like the processes (200 % is all of 2 cores)
            self.samples["host (every process)"].append((psutil.cpu_percent(None) * psutil.cpu_count(), 0.0))
            for name, procs in list(self.procs.items()):
                cpu = rss = 0.0
                for p in procs:
                    try:
                        cpu += p.cpu_percent(None)
                        rss += p.memory_info().rss
                    except psutil.NoSuchProcess:
                        pass
                self.samples[name].append((cpu, rss / 2**20))

    def stop(self) -> Dict[str, Dict[str, float]]:
        self._halt.set()
        self.join(timeout=5)
        out = {}
        for name, rows in self.samples.items():
            if rows:
                cpus, mems = [r[0] for r in rows], [r[1] for r in rows]
                out[name] = {"cpu_avg_pct": round(sum(cpus) / len(cpus), 1), "cpu_max_pct": round(max(cpus), 1),
                             "rss_avg_mb": round(sum(mems) / len(mems), 1), "rss_max_mb": round(max(mems), 1)}
        return out


def server_pids() -> Dict[str, int]:
    """The machine's PostgreSQL and RabbitMQ servers (started before the
    benchmark, outside its cluster): their CPU is part of every reply too."""
    found: Dict[str, int] = {}
    for process in psutil.process_iter(["pid", "name", "ppid"]):
        name = process.info["name"] or ""
        try:
            parent = psutil.Process(process.info["ppid"]).name() if process.info["ppid"] else ""
        except psutil.NoSuchProcess:
            parent = ""
        if name == "postgres" and parent != "postgres":
            found["postgresql"] = process.info["pid"]  # the postmaster; its backends are its children
        elif name == "beam.smp":
            found["rabbitmq"] = process.info["pid"]
    return found


def read_log(path: Path) -> List[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_trackers(base_url: str, rows: List[dict]) -> Dict[str, object]:
    """Per conversation, compare what the shoppers saw with the tracker:

    * lost: an attempt answered 200 whose user message is not in the tracker,
      or that has no bot reply before the next user message;
    * duplicated: an attempt id that appears twice among the user events;
    * out of order: attempt ids not in the order they were sent, or bot
      replies of one message after the next user message.
    Attempts that failed (polite 503, error) may or may not be in the
    tracker (the instance may have died after storing it): both are fine,
    but never twice."""
    by_sender: Dict[str, List[dict]] = defaultdict(list)
    for row in rows:
        by_sender[row["sender"]].append(row)
    problems: List[str] = []
    counts = {"conversations": len(by_sender), "user_events": 0, "lost": 0, "duplicated": 0, "out_of_order": 0,
              "unanswered": 0, "failed_attempts_in_tracker": 0, "trackers_unreadable": 0}
    for sender, attempts in by_sender.items():
        try:
            events = requests.get(f"{base_url}/conversations/rest:{sender}/tracker", timeout=30,
                                  headers={"Authorization": f"Bearer {api_token(secret('rasa_jwt_secret'))}"}
                                  ).json()["events"]
        except Exception as error:
            counts["trackers_unreadable"] += 1
            problems.append(f"{sender}: tracker unreadable ({error})")
            continue
        turns: List[str] = []
        answered: Dict[str, int] = {}
        for event in events:
            if event.get("event") == "user":
                turn_id = (event.get("metadata") or {}).get("kefu_turn")
                turns.append(turn_id)
                answered[turn_id] = answered.get(turn_id, 0)
            elif event.get("event") == "bot" and turns:
                answered[turns[-1]] += 1
        counts["user_events"] += len(turns)
        if len(set(turns)) != len(turns):
            counts["duplicated"] += len(turns) - len(set(turns))
            problems.append(f"{sender}: duplicated {turns}")
        if turns != sorted(turns):
            counts["out_of_order"] += 1
            problems.append(f"{sender}: out of order {turns}")
        sent = [(a["turn_id"], a["outcome"]) for a in sorted(attempts, key=lambda a: a["started"])]
        for turn_id, outcome in sent:
            if outcome == "ok":
                if turn_id not in answered:
                    counts["lost"] += 1
                    problems.append(f"{sender}: {turn_id} answered to the shopper but not in the tracker")
                elif answered[turn_id] == 0:
                    counts["unanswered"] += 1
                    problems.append(f"{sender}: {turn_id} has no bot reply in the tracker")
            elif turn_id in answered:
                counts["failed_attempts_in_tracker"] += 1
    counts["problems"] = problems[:50]
    return counts


def steady_throughput(rows: List[dict], start: float, end: float) -> float:
    """Replies per second answered ok between ``start`` and ``end`` (wall
    clock): the ramp, while shoppers are still arriving, and the wind-down,
    while the last conversations finish, are left out. Without that, a run
    that needs more shoppers to saturate it (two instances) loses more of
    its minute to the ramp than one that does not."""
    done = sum(1 for r in rows if r["outcome"] == "ok" and start <= r["started"] + r["latency"] < end)
    return round(done / (end - start), 2) if end > start else 0.0


def summarize(rows: List[dict], duration: float) -> Dict[str, object]:
    outcomes: Dict[str, int] = defaultdict(int)
    for r in rows:
        outcomes[r["outcome"]] += 1
    ok = sorted(r["latency"] for r in rows if r["outcome"] == "ok")

    def pct(p: float) -> float:
        if not ok:
            return float("nan")
        return round(ok[min(len(ok) - 1, int(p * len(ok)))] * 1000, 0)

    conversations = defaultdict(list)
    for r in rows:
        conversations[r["sender"]].append(r)
    complete = sum(1 for rs in conversations.values()
                   if any(r["turn"] == 4 and r["outcome"] == "ok" for r in rs))
    order_found = sum(1 for r in rows if r["turn"] == 3 and r["outcome"] == "ok")
    return {"requests": len(rows), "outcomes": dict(outcomes), "duration_s": round(duration, 1),
            "throughput_rps": round(len(ok) / duration, 2) if duration else 0,
            "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "max_ms": round(ok[-1] * 1000) if ok else None,
            "conversations_started": len(conversations), "conversations_completed": complete,
            "order_lookups_ok": order_found}

"""What a bot's processes cost: CPU-seconds from the kernel's accounting and
the largest RSS seen, per process group (``rasa``, ``actions``).

CPU is read as totals (user + system) before and after a measured stretch,
not as sampled percentages, so that nothing between two samples is missed:
a group's total is its root process, the children it has reaped (their time
is folded into the parent's ``children_*``) and its live descendants. RSS
has no such total, so it is sampled (bench.load.infra.Sampler) and the
largest sample kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict

import psutil

from bench.load.infra import Sampler

#: how often RSS is sampled during a step
RSS_EVERY_S = 0.5


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def group_cpu(pid: int) -> float:
    """CPU-seconds used so far by a process and all its descendants."""
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for member in members:
        try:
            total += _cpu_seconds(member)
        except psutil.NoSuchProcess:
            pass  # exited just now: its time is its parent's once reaped
    return total


def cpu(pids: Dict[str, int]) -> Dict[str, float]:
    """CPU-seconds so far of each group."""
    return {name: group_cpu(pid) for name, pid in pids.items()}


@dataclass
class Usage:
    """CPU-seconds used and the largest RSS (MB) of each group over a stretch."""

    cpu_s: Dict[str, float]
    rss_max_mb: Dict[str, float] = field(default_factory=dict)

    @property
    def total_cpu_s(self) -> float:
        return sum(self.cpu_s.values())


class StepMeter:
    """CPU and RSS of a bot's processes over one load step."""

    def __init__(self, pids: Dict[str, int]) -> None:
        self.pids = dict(pids)
        self._before = cpu(self.pids)
        self._sampler = Sampler(self.pids, every=RSS_EVERY_S)
        self._sampler.start()

    def stop(self) -> Usage:
        after = cpu(self.pids)
        sampled = self._sampler.stop()
        return Usage({name: round(after[name] - self._before[name], 3) for name in self.pids},
                     {name: sampled[name]["rss_max_mb"] for name in self.pids if name in sampled})

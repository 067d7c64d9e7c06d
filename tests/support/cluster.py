"""The production profile's processes as the cluster tests and the load and
fault benchmarks need them: configured and started by Kefu's own
supervisor, with single processes to crash, stop and start on purpose."""
from __future__ import annotations

import signal
from typing import Dict, List, Mapping, Optional

from kefu.ops import production
from kefu.ops.production import Layout
from kefu.ops.supervisor import Supervisor


class Cluster:
    def __init__(self, layout: Layout, supervisor: Supervisor) -> None:
        self.layout, self.supervisor = layout, supervisor

    @classmethod
    def create(cls, layout: Layout, env: Optional[Mapping[str, str]] = None, seed_orders: int = 3000) -> "Cluster":
        """Configured, nothing started (kefu.ops.production.configure)."""
        return cls(layout, production.configure(layout, env, seed_orders))

    def start(self, timeout: float = 600) -> "Cluster":
        self.supervisor.start(production.start_groups(list(self.supervisor.processes.values())), timeout)
        return self

    @property
    def env(self) -> Mapping[str, str]:
        return self.supervisor.env

    def kill(self, name: str) -> None:
        """SIGKILL the process (a crash), and wait until it is gone."""
        child = self.supervisor.running.get(name)
        self.supervisor.send(name, signal.SIGKILL)
        if child is not None:
            child.wait(timeout=10)

    def spawn(self, name: str) -> None:
        self.supervisor.spawn(name)

    def wait(self, names: List[str], timeout: float = 300) -> None:
        self.supervisor.wait(names, timeout)

    def terminate(self, name: str) -> None:
        self.supervisor.terminate(name)

    def pids(self) -> Dict[str, int]:
        return self.supervisor.pids()

    def alive(self) -> Dict[str, bool]:
        return {name: child.poll() is None for name, child in self.supervisor.running.items()}

    def stop(self) -> None:
        self.supervisor.stop()

"""The one process supervisor: `make run`, `make run-prod` and the tests
start Kefu's processes through it.

A :class:`Supervisor` holds a table of named processes, each with its
command line and a health URL. It starts them in the order given, waits for
each group to answer its health check, restarts one that dies (with a
growing pause, so a process that cannot start does not spin), and stops
them all, in reverse order, when asked. Every process gets its own session,
so a signal reaches the children it starts (nginx's workers, Rasa's).
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Dict, List, Mapping, Optional, Sequence

from kefu.core.config import PROJECT_ROOT

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Process:
    """One entry of the table."""

    name: str
    command: List[str]
    health_url: Optional[str] = None


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@dataclass
class Supervisor:
    processes: Dict[str, Process]
    env: Mapping[str, str]
    log_dir: Optional[Path] = None
    running: Dict[str, subprocess.Popen] = field(default_factory=dict)
    _logs: Dict[str, IO[bytes]] = field(default_factory=dict)
    _restarts: Dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, table: Sequence[Process], env: Mapping[str, str], log_dir: Optional[Path] = None) -> "Supervisor":
        return cls({p.name: p for p in table}, dict(env), log_dir)

    def spawn(self, name: str) -> subprocess.Popen:
        process = self.processes[name]
        output = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = self._logs.get(name) or open(self.log_dir / f"{name}.log", "ab")
            self._logs[name] = output
        child = subprocess.Popen(process.command, cwd=PROJECT_ROOT, env=dict(self.env), stdout=output,
                                 stderr=subprocess.STDOUT if output else None, start_new_session=True)
        self.running[name] = child
        return child

    def wait(self, names: Sequence[str], timeout: float = 300) -> None:
        """Return once every one of ``names`` with a health URL answers it."""
        deadline = time.monotonic() + timeout
        pending = [n for n in names if self.processes[n].health_url]
        while pending:
            for name in list(pending):
                child = self.running[name]
                if child.poll() is not None:
                    where = f"; see {self.log_dir / (name + '.log')}" if self.log_dir else ""
                    raise RuntimeError(f"{name} exited with {child.returncode} before it answered{where}")
                if healthy(self.processes[name].health_url or ""):
                    pending.remove(name)
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"{', '.join(pending)} did not answer within {timeout:.0f} s")
            if pending:
                time.sleep(0.5)

    def start(self, groups: Sequence[Sequence[str]], timeout: float = 300) -> "Supervisor":
        """Start the groups one after the other, each once the one before
        answers (the action servers before Rasa, Rasa before the desk)."""
        try:
            for group in groups:
                for name in group:
                    self.spawn(name)
                self.wait(group, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def send(self, name: str, sig: int) -> None:
        """Signal a process and its children (its session)."""
        child = self.running.get(name)
        if child is not None and child.poll() is None:
            try:
                os.killpg(child.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self, name: str, timeout: float = 20) -> None:
        child = self.running.get(name)
        if child is None or child.poll() is not None:
            return
        self.send(name, signal.SIGTERM)
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.send(name, signal.SIGKILL)
            child.wait(timeout=10)

    def restart(self, name: str, timeout: float = 300) -> None:
        self.terminate(name)
        self.spawn(name)
        self.wait([name], timeout)

    def pids(self) -> Dict[str, int]:
        return {n: p.pid for n, p in self.running.items() if p.poll() is None}

    def watch(self, stopping: "Stopping", max_pause: float = 30.0) -> None:
        """Until ``stopping`` is set: restart any process that died, after a
        pause that doubles with each restart of the same process."""
        while not stopping.is_set():
            for name, child in list(self.running.items()):
                if child.poll() is None or stopping.is_set():
                    continue
                count = self._restarts.get(name, 0)
                pause = min(max_pause, 2.0 ** count)
                logger.warning("%s exited with %s; restarting in %.0f s", name, child.returncode, pause)
                if stopping.wait(pause):
                    break
                self._restarts[name] = count + 1
                self.spawn(name)
            stopping.wait(0.5)

    def stop(self) -> None:
        """Stop everything, the last started first."""
        for name in reversed(list(self.running)):
            self.send(name, signal.SIGTERM)
        for name in reversed(list(self.running)):
            self.terminate(name)
        for log in self._logs.values():
            log.close()
        self._logs.clear()


class Stopping:
    """Set by SIGINT / SIGTERM (Ctrl-C, `docker stop`, systemd)."""

    def __init__(self) -> None:
        import threading

        self._event = threading.Event()

    def install(self) -> "Stopping":
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._event.set())
        return self

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)

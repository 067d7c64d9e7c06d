"""Start Kefu on one machine: the action server, then the Rasa server.

`make run` uses this so a newcomer gets one command that starts everything,
waits until both servers answer, prints where to talk to the assistant and
stops both cleanly on Ctrl-C. The same module serves the end-to-end tests,
which need the pair running on free ports.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from kefu.config import PROJECT_ROOT

BIN = Path(sys.executable).parent


@dataclass
class Servers:
    """A running action server and Rasa server."""

    rasa_port: int
    action_port: int
    processes: List[subprocess.Popen] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}"

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_for(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def start(
    model: Optional[str] = None,
    rasa_port: int = 5005,
    action_port: int = 5055,
    endpoints: str = "endpoints.yml",
    credentials: str = "credentials.yml",
    env: Optional[dict] = None,
    log_dir: Optional[Path] = None,
    timeout: float = 300,
) -> Servers:
    """Start both servers and return once both answer their health checks."""
    environment = {**os.environ, **(env or {})}
    environment.setdefault("PYTHONPATH", str(PROJECT_ROOT))
    servers = Servers(rasa_port, action_port)

    def spawn(name: str, args: List[str]) -> subprocess.Popen:
        output = open(log_dir / f"{name}.log", "ab") if log_dir else None
        return subprocess.Popen(args, cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT if output else None)

    try:
        actions = spawn("actions", [str(BIN / "rasa"), "run", "actions", "--port", str(action_port), "--actions", "actions"])
        servers.processes.append(actions)
        _wait_for(f"{servers.action_url}/health", actions, timeout)
        rasa_args = [
            str(BIN / "rasa"), "run", "--enable-api", "--cors", "*",
            "--port", str(rasa_port),
            "--endpoints", endpoints, "--credentials", credentials,
        ]
        if model:
            rasa_args += ["--model", model]
        rasa = spawn("rasa", rasa_args)
        servers.processes.append(rasa)
        _wait_for(f"{servers.rasa_url}/status", rasa, timeout)
    except BaseException:
        servers.stop()
        raise
    return servers


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run Kefu's Rasa and action servers.")
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument("--action-port", type=int, default=5055)
    parser.add_argument("--endpoints", default="endpoints.yml")
    parser.add_argument("--credentials", default="credentials.yml")
    args = parser.parse_args(argv)
    servers = start(
        rasa_port=args.port,
        action_port=args.action_port,
        endpoints=args.endpoints,
        credentials=args.credentials,
    )
    print(
        "\nKefu is running.\n"
        f"  REST:       curl -s {servers.rasa_url}/webhooks/rest/webhook "
        "-H 'Content-Type: application/json' -d '{\"sender\": \"me\", \"message\": \"你好\"}'\n"
        f"  socket.io:  {servers.rasa_url}/socket.io (the web widget)\n"
        f"  actions:    {servers.action_url}/health\n"
        "  terminal:   make shell (in another terminal)\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    stop = {"now": False}

    def on_signal(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop["now"] and all(p.poll() is None for p in servers.processes):
            time.sleep(0.5)
    finally:
        servers.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

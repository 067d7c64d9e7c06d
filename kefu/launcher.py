"""Start Kefu on one machine: the action server, then the Rasa server.

`make run` uses this so a newcomer gets one command that starts everything,
waits until both servers answer, prints where to talk to the assistant and
stops both cleanly on Ctrl-C. The same module serves the end-to-end tests,
which need the pair running on free ports.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from kefu.config import PROJECT_ROOT
from kefu.core import secrets



@dataclass
class Servers:
    """A running action server and Rasa server."""

    rasa_port: int
    action_port: int
    desk_port: Optional[int] = None
    processes: List[subprocess.Popen] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def desk_url(self) -> str:
        return f"http://127.0.0.1:{self.desk_port}"

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


_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def _configured(value: Any, env: Mapping[str, str]) -> bool:
    """Whether every ${VAR} in a credentials value is set (or has a default)."""
    if isinstance(value, dict):
        return all(_configured(v, env) for v in value.values())
    if isinstance(value, str):
        return all(env.get(m.group(1)) or m.group(2) is not None for m in _VARIABLE.finditer(value))
    return True


def _with_defaults(value: Any, env: Mapping[str, str]) -> Any:
    """``${VAR:-default}`` becomes the default when VAR is unset, and stays
    ``${VAR}`` for Rasa to fill in otherwise, so no secret is written out."""
    if isinstance(value, dict):
        return {k: _with_defaults(v, env) for k, v in value.items()}
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: "${%s}" % m.group(1) if env.get(m.group(1)) else (m.group(2) or ""), value)
    return value


def effective_credentials(path: Path, env: Mapping[str, str], out_dir: Path) -> Path:
    """credentials.yml with only the channels whose variables are set: a
    channel is off unless configured, and an unset secret is not an error."""
    channels: Dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    enabled = {name: _with_defaults(conf, env) for name, conf in channels.items() if _configured(conf, env)}
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "credentials.effective.yml"
    target.write_text(yaml.safe_dump(enabled, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def effective_endpoints(path: Path, action_port: int, out_dir: Path) -> Path:
    """endpoints.yml with a local action server's URL on the port it was
    started on (a remote one, e.g. behind a balancer, is left alone)."""
    endpoints: Dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    action = endpoints.get("action_endpoint") or {}
    url = str(action.get("url", ""))
    if not url or re.match(r"https?://(localhost|127\.0\.0\.1)(:\d+)?/", url):
        endpoints["action_endpoint"] = {**action, "url": f"http://127.0.0.1:{action_port}/webhook"}
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "endpoints.effective.yml"
    target.write_text(yaml.safe_dump(endpoints, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


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


#: the largest request body any channel accepts (each channel has its own,
#: smaller cap); Sanic's default is 100 MB
MAX_REQUEST_BYTES = 2 * 1024 * 1024


def start(
    model: Optional[str] = None,
    rasa_port: int = 5005,
    action_port: int = 5055,
    endpoints: str = "endpoints.yml",
    credentials: str = "credentials.yml",
    env: Optional[dict] = None,
    log_dir: Optional[Path] = None,
    timeout: float = 300,
    desk_port: Optional[int] = None,
    api: Optional[bool] = None,
) -> Servers:
    """Start both servers (and the agent desk if ``desk_port`` is given) and
    return once all answer their health checks. Rasa's HTTP API is on when
    the desk runs (it replies through it) or ``api`` asks for it, and then
    only with a JWT (kefu/ops/rasa_server.py)."""
    environment = {**os.environ, **secrets.environment(), "SANIC_REQUEST_MAX_SIZE": str(MAX_REQUEST_BYTES),
                   **(env or {})}
    environment.setdefault("PYTHONPATH", str(PROJECT_ROOT))
    api = bool(desk_port) if api is None else api
    servers = Servers(rasa_port, action_port, desk_port)

    def spawn(name: str, args: List[str]) -> subprocess.Popen:
        output = open(log_dir / f"{name}.log", "ab") if log_dir else None
        return subprocess.Popen(args, cwd=PROJECT_ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT if output else None)

    out_dir = Path(log_dir or PROJECT_ROOT / "var")
    credentials = str(effective_credentials(Path(PROJECT_ROOT, credentials), environment, out_dir))
    endpoints = str(effective_endpoints(Path(PROJECT_ROOT, endpoints), action_port, out_dir))
    try:
        actions = spawn("actions", [sys.executable, "-m", "kefu.ops.action_server", "--port", str(action_port)])
        servers.processes.append(actions)
        _wait_for(f"{servers.action_url}/health", actions, timeout)
        rasa_args = [sys.executable, "-m", "kefu.ops.rasa_server", "--port", str(rasa_port),
                     "--endpoints", endpoints, "--credentials", credentials]
        if model:
            rasa_args += ["--model", model]
        if api:
            rasa_args.append("--api")
        rasa = spawn("rasa", rasa_args)
        servers.processes.append(rasa)
        _wait_for(f"{servers.rasa_url}/webhooks/rest/", rasa, timeout)
        if desk_port:
            environment.setdefault("KEFU_RASA_URL", servers.rasa_url)
            environment["KEFU_DESK_PORT"] = str(desk_port)
            desk = spawn("desk", [sys.executable, "-m", "kefu.desk"])
            servers.processes.append(desk)
            _wait_for(f"{servers.desk_url}/healthz", desk, timeout)
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
    parser.add_argument("--desk-port", type=int, default=5006, help="agent desk port; 0 to not start it")
    args = parser.parse_args(argv)
    servers = start(
        rasa_port=args.port,
        action_port=args.action_port,
        endpoints=args.endpoints,
        credentials=args.credentials,
        desk_port=args.desk_port or None,
    )
    print(
        "\nKefu is running.\n"
        f"  REST:       curl -s {servers.rasa_url}/webhooks/rest/webhook "
        "-H 'Content-Type: application/json' -d '{\"sender\": \"me\", \"message\": \"你好\"}'\n"
        f"  socket.io:  {servers.rasa_url}/socket.io (the web widget)\n"
        f"  actions:    {servers.action_url}/health\n"
        + (f"  agent desk: {servers.desk_url}/ (add an agent: make agent AGENT=li NAME=小李)\n" if servers.desk_port else "")
        + f"  web widget: {servers.rasa_url}/webchat/demo (demo shop page)\n"
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

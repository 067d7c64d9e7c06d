"""`make run`: Kefu on one machine, on the embedded defaults.

The action server, then Rasa, then the agent desk, through the one
supervisor (kefu/ops/supervisor.py): it waits until each answers, prints
where to talk to the assistant, restarts a process that dies and stops them
all on Ctrl-C. The end-to-end tests start the same processes on free ports
with :func:`start`.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from kefu.core import secrets
from kefu.core.config import PROJECT_ROOT, load_settings
from kefu.ops import commands
from kefu.ops.files import effective_credentials, effective_endpoints
from kefu.ops.supervisor import Process, Stopping, Supervisor
from kefu.store.db import migrate

#: the largest request body any channel accepts (each channel has its own,
#: smaller cap); Sanic's default is 100 MB
MAX_REQUEST_BYTES = 2 * 1024 * 1024


@dataclass
class Servers:
    """The running processes and where they answer."""

    supervisor: Supervisor
    rasa_port: int
    action_port: int
    desk_port: Optional[int] = None

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
        self.supervisor.stop()


def environment(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """What every process gets: this environment, the shared secrets (so
    that all agree whatever their working directory) and ``extra``."""
    env = {**os.environ, **secrets.environment(), "SANIC_REQUEST_MAX_SIZE": str(MAX_REQUEST_BYTES), **(extra or {})}
    env.setdefault("PYTHONPATH", str(PROJECT_ROOT))
    return env


def start(
    model: Optional[str] = None,
    rasa_port: int = 5005,
    action_port: int = 5055,
    endpoints: str = "endpoints.yml",
    credentials: str = "credentials.yml",
    env: Optional[Dict[str, str]] = None,
    log_dir: Optional[Path] = None,
    timeout: float = 300,
    desk_port: Optional[int] = None,
    api: Optional[bool] = None,
) -> Servers:
    """Start the action server, Rasa and (with ``desk_port``) the desk, and
    return once all answer. Rasa's HTTP API is on when the desk runs (it
    replies through it) or ``api`` asks for it, and then only with a JWT."""
    env = environment(env)
    api = bool(desk_port) if api is None else api
    migrate(load_settings(env).database_url)  # before any server touches the shop database
    out_dir = Path(log_dir or PROJECT_ROOT / "var")
    credentials_file = effective_credentials(Path(PROJECT_ROOT, credentials), env, out_dir)
    endpoints_file = effective_endpoints(Path(PROJECT_ROOT, endpoints), action_port, out_dir)
    table: List[Process] = [
        Process("actions", commands.actions(action_port), f"http://127.0.0.1:{action_port}/health"),
        Process("rasa", commands.rasa(rasa_port, endpoints_file, credentials_file, Path(model) if model else None,
                                      api=api), f"http://127.0.0.1:{rasa_port}/webhooks/rest/"),
    ]
    groups = [["actions"], ["rasa"]]
    if desk_port:
        env.setdefault("KEFU_RASA_URL", f"http://127.0.0.1:{rasa_port}")
        env["KEFU_DESK_PORT"] = str(desk_port)
        table.append(Process("desk", commands.desk(), f"http://127.0.0.1:{desk_port}/healthz"))
        groups.append(["desk"])
    supervisor = Supervisor.of(table, env, log_dir).start(groups, timeout)
    return Servers(supervisor, rasa_port, action_port, desk_port)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run Kefu's Rasa server, action server and agent desk.")
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument("--action-port", type=int, default=5055)
    parser.add_argument("--endpoints", default="endpoints.yml")
    parser.add_argument("--credentials", default="credentials.yml")
    parser.add_argument("--desk-port", type=int, default=5006, help="agent desk port; 0 to not start it")
    args = parser.parse_args(argv)
    stopping = Stopping().install()
    servers = start(rasa_port=args.port, action_port=args.action_port, endpoints=args.endpoints,
                    credentials=args.credentials, desk_port=args.desk_port or None)
    print(
        "\nKefu is running.\n"
        f"  REST:       curl -s {servers.rasa_url}/webhooks/rest/webhook "
        "-H 'Content-Type: application/json' -d '{\"sender\": \"me\", \"message\": \"你好\"}'\n"
        f"  web widget: {servers.rasa_url}/webchat/demo (demo shop page)\n"
        + (f"  agent desk: {servers.desk_url}/ (add an agent: make agent AGENT=li NAME=小李)\n"
           if servers.desk_port else "")
        + "  terminal:   make shell (in another terminal)\n"
        "Rasa and the action server listen on 127.0.0.1 only (docs/security.md). Press Ctrl-C to stop.\n",
        flush=True,
    )
    try:
        servers.supervisor.watch(stopping)
    finally:
        servers.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every command line Kefu starts, written once: `make run`, `make run-prod`,
its Procfile, docker-compose and the tests all take them from here."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

PYTHON = sys.executable


def actions(port: int, host: str = "127.0.0.1") -> List[str]:
    """One action server (kefu/ops/action_server.py: Rasa's secret required)."""
    return [PYTHON, "-m", "kefu.ops.action_server", "--port", str(port), "--host", host]


def rasa(port: int, endpoints: Path, credentials: Path, model: Optional[Path] = None, host: str = "127.0.0.1",
         api: bool = False) -> List[str]:
    """One Rasa server (kefu/ops/rasa_server.py: local interface, the HTTP
    API only with ``api`` and then behind a JWT)."""
    command = [PYTHON, "-m", "kefu.ops.rasa_server", "--port", str(port), "--host", host,
               "--endpoints", str(endpoints), "--credentials", str(credentials)]
    if model is not None:
        command += ["--model", str(model)]
    return command + (["--api"] if api else [])


def desk() -> List[str]:
    """The agent desk (its port and Rasa's URL come from its environment)."""
    return [PYTHON, "-m", "kefu.desk"]

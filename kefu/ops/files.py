"""The configuration files Rasa is started with, written for this run.

* credentials: only the channels whose variables are set (a channel is off
  unless configured), with ``${VAR:-default}`` resolved to its default when
  VAR is unset and kept as ``${VAR}`` otherwise, so that Rasa fills it in
  and no secret is ever written to disk;
* endpoints: a local action server's URL on the port it was started on.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Mapping

import yaml

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

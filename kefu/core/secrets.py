"""The secrets Kefu's own processes share, and where each one comes from.

Every secret is an environment variable (``KEFU_ACTION_TOKEN`` …). When it is
unset, one is generated and kept in ``var/secrets/<name>`` (mode 0600,
``KEFU_SECRETS_DIR`` to move it): every process on the machine then agrees
without configuration, and a restart keeps widget sessions and keyed hashes
valid. That is what ``make run`` and ``make run-prod`` on one host use.
Deployments across several hosts (docker-compose) must set the variables,
and ``KEFU_SECRETS_FROM_ENV=1`` makes a missing one an error there instead
of a private file per container. Nothing secret is ever defaulted in code.
"""
from __future__ import annotations

import os
import secrets as _random
from functools import lru_cache
from pathlib import Path
from typing import Dict

from kefu.core.config import PROJECT_ROOT

#: name -> environment variable; what each one protects is in docs/security.md
SECRETS: Dict[str, str] = {
    "id_key": "KEFU_ID_KEY",  # keyed hashes of conversation ids and client addresses
    "action_token": "KEFU_ACTION_TOKEN",  # Rasa -> action server
    "rasa_jwt_secret": "KEFU_RASA_JWT_SECRET",  # agent desk -> Rasa's HTTP API
    "widget_key": "KEFU_WIDGET_KEY",  # web widget session tokens
    "shop_webhook_secret": "KEFU_SHOP_WEBHOOK_SECRET",  # the shop -> POST /shop/events (HMAC)
    "evidence_link_key": "KEFU_EVIDENCE_LINK_KEY",  # the desk's signed, expiring links to photos
}
_MIN_LENGTH = 16


class MissingSecret(RuntimeError):
    """A secret is neither in the environment nor allowed to be generated."""


def secrets_dir() -> Path:
    return Path(os.environ.get("KEFU_SECRETS_DIR") or PROJECT_ROOT / "var" / "secrets")


def secret(name: str) -> str:
    """The value of secret ``name`` (a key of :data:`SECRETS`)."""
    variable = SECRETS[name]
    value = os.environ.get(variable, "").strip()
    if value:
        if len(value) < _MIN_LENGTH:
            raise MissingSecret(f"{variable} must be at least {_MIN_LENGTH} characters")
        return value
    if os.environ.get("KEFU_SECRETS_FROM_ENV", "").lower() in ("1", "true", "yes"):
        raise MissingSecret(f"{variable} is not set (KEFU_SECRETS_FROM_ENV forbids generating it)")
    return _stored(name, str(secrets_dir()))


@lru_cache(maxsize=None)
def _stored(name: str, directory: str) -> str:
    """The generated secret in ``directory``, created once: of two processes
    starting together, the first to create the file wins and both read it."""
    path = Path(directory) / name
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        draft = path.with_name(f".{name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(_random.token_urlsafe(32))
        try:
            os.link(draft, path)  # atomic: never a half-written file, never two values
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    value = path.read_text(encoding="ascii").strip()
    if len(value) < _MIN_LENGTH:
        raise MissingSecret(f"{path} holds no usable secret; delete it to generate a new one")
    return value


def environment() -> Dict[str, str]:
    """Every secret as environment variables, for the processes a launcher
    starts: children then agree with it whatever their working directory."""
    return {variable: secret(name) for name, variable in SECRETS.items()}

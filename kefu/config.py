"""The one place Kefu reads its settings from.

Everything comes from environment variables so that the embedded defaults
(SQLite file, in-process stores) work on a fresh laptop while production
points at real servers by setting a handful of variables. Secrets are never
defaulted here.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "kefu.db"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    """Runtime settings, read once per process with :func:`load_settings`."""

    database_url: str
    redis_url: str | None
    default_language: str = "zh"
    #: ``embedded`` (default: SQLite files, in-process stores, one process of
    #: each) or ``production`` (KEFU_PROFILE=production: Redis, PostgreSQL,
    #: RabbitMQ, several servers behind a balancer; see docs/production.md).
    profile: str = "embedded"
    #: RabbitMQ, Rasa's event broker for conversation events (production).
    rabbitmq_url: str | None = None
    rasa_instances: int = 1
    action_instances: int = 1
    # Order proofs (docs/security.md): wrong proofs tolerated per
    # conversation (in 10 minutes), per order and per client address (in a
    # day, then a doubling wait) and from everyone (in 10 minutes); how long
    # a proof lasts.
    proof_per_conversation: int = 3
    proof_per_order: int = 5
    proof_per_client: int = 20
    proof_everyone: int = 200
    proof_ttl_seconds: int = 1800
    #: addresses of the proxies whose X-Real-IP / X-Forwarded-For is
    #: believed (nginx in production); from anyone else the peer address counts
    trusted_proxies: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


#: where the production profile looks for its servers when their variables
#: are unset: the servers on this machine (docker-compose sets them all).
#: No password is defaulted; RabbitMQ's guest account only works on localhost.
PRODUCTION_DEFAULTS = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/kefu",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
}
PROFILES = ("embedded", "production")


def load_settings() -> Settings:
    """Read the settings from the environment (with embedded defaults)."""
    profile = _env("KEFU_PROFILE", "embedded").lower()
    if profile not in PROFILES:
        raise ValueError(f"KEFU_PROFILE must be one of {', '.join(PROFILES)}, not {profile!r}")
    production = profile == "production"

    def server(name: str, embedded: str | None) -> str | None:
        return os.environ.get(name, "").strip() or (PRODUCTION_DEFAULTS[name] if production else embedded)

    return Settings(
        database_url=server("DATABASE_URL", f"sqlite:///{DEFAULT_SQLITE_PATH}") or "",
        redis_url=server("REDIS_URL", None),
        default_language=_env("KEFU_DEFAULT_LANGUAGE", "zh"),
        profile=profile,
        rabbitmq_url=server("RABBITMQ_URL", None),
        rasa_instances=int(_env("KEFU_RASA_INSTANCES", "2" if production else "1")),
        action_instances=int(_env("KEFU_ACTION_INSTANCES", "2" if production else "1")),
        proof_per_conversation=int(_env("KEFU_PROOF_PER_CONVERSATION", "3")),
        proof_per_order=int(_env("KEFU_PROOF_PER_ORDER", "5")),
        proof_per_client=int(_env("KEFU_PROOF_PER_CLIENT", "20")),
        proof_everyone=int(_env("KEFU_PROOF_EVERYONE", "200")),
        proof_ttl_seconds=int(_env("KEFU_PROOF_TTL_SECONDS", "1800")),
        trusted_proxies=tuple(a.strip() for a in _env(
            "KEFU_TRUSTED_PROXIES", "127.0.0.1,::1" if production else "").split(",") if a.strip()),
    )

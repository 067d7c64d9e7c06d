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
    # Identity checks: how many wrong proofs are allowed in the window.
    max_failed_verifications: int = 3
    verification_window_seconds: int = 600
    extra: dict[str, str] = field(default_factory=dict)


def load_settings() -> Settings:
    """Read the settings from the environment (with embedded defaults)."""
    return Settings(
        database_url=_env("DATABASE_URL", f"sqlite:///{DEFAULT_SQLITE_PATH}"),
        redis_url=os.environ.get("REDIS_URL") or None,
        default_language=_env("KEFU_DEFAULT_LANGUAGE", "zh"),
    )

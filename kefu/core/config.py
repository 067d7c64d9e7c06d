"""The one place Kefu reads its settings from.

Everything comes from environment variables so that the embedded defaults
(SQLite file, in-process stores) work on a fresh laptop while production
points at real servers by setting a handful of variables. Secrets are not
settings: ``kefu.core.secrets`` reads them, so that a printed or logged
``Settings`` never holds one.

Every variable and its default: docs/configuration.md.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, FrozenSet, Mapping, Optional, Tuple

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "kefu.db"
DEFAULT_TRACKER_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'tracker.db'}"

#: where the production profile looks for its servers when their variables
#: are unset: the servers on this machine (docker-compose sets them all).
#: No password is defaulted; RabbitMQ's guest account only works on localhost.
PRODUCTION_DEFAULTS = {
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/kefu",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
}
PROFILES = ("embedded", "production")


@dataclass(frozen=True)
class DeskOptions:
    """The agent desk's options (docs/agent-desk.md); kefu/desk/settings.py
    adds the database and the secret it needs."""

    rasa_url: str = "http://127.0.0.1:5005"
    host: str = "127.0.0.1"
    port: int = 5006
    session_hours: float = 8.0
    secure_cookie: bool = False  # set KEFU_DESK_SECURE_COOKIE=1 behind HTTPS
    poll_seconds: float = 1.0  # how often the database is checked for changes to push
    presence_seconds: int = 90  # an agent unseen for longer gets no new chats
    rasa_timeout: float = 10.0
    managers: Tuple[str, ...] = ()  # agents who see the dashboard
    trainers: Tuple[str, ...] = ()  # agents who approve learned answers (unset: as managers)
    supervisors: Tuple[str, ...] = ()  # agents alerted of overflows, who may block (unset: as managers)
    analytics_ingest_seconds: float = 60.0  # how often the desk folds new events into analytics
    queue_news_seconds: float = 5.0  # how often waiting shoppers are checked for news of their place


@dataclass(frozen=True)
class NotifyOptions:
    """Order news (docs/notifications.md): quiet hours in the shop's time
    zone (service_hours.yml), a daily cap per shopper, how long a parcel may
    sit without a tracking update before the shopper is told, retries."""

    quiet_hours: str = "22:00-08:00"  # "off" for none
    daily_cap: int = 3
    delay_hours: float = 48.0
    poll_seconds: float = 2.0
    max_attempts: int = 6
    first_retry_seconds: float = 30.0
    #: how far a webhook's timestamp may be from now (replays are refused)
    webhook_window_seconds: int = 300


@dataclass(frozen=True)
class EvidenceOptions:
    """Photo evidence (docs/evidence.md): where photos are kept, how big
    and how many, how long an agent's link to one stays valid."""

    storage: str = "local"  # or "s3"
    directory: Path = PROJECT_ROOT / "var" / "evidence"
    s3_endpoint: Optional[str] = None  # e.g. http://minio:9000; unset: AWS
    s3_bucket: str = "kefu-evidence"
    s3_region: str = "us-east-1"
    max_bytes: int = 8_000_000  # per photo, as sent
    max_photos: int = 6  # waiting for one request
    link_seconds: int = 600


@dataclass(frozen=True)
class Settings:
    """Runtime settings, read with :func:`load_settings`."""

    database_url: str
    redis_url: Optional[str]
    default_language: str = "zh"
    #: ``embedded`` (default: SQLite files, in-process stores, one process of
    #: each) or ``production`` (KEFU_PROFILE=production: Redis, PostgreSQL,
    #: RabbitMQ, several servers behind a balancer; see docs/production.md).
    profile: str = "embedded"
    #: RabbitMQ, Rasa's event broker for conversation events (production).
    rabbitmq_url: Optional[str] = None
    #: Rasa's SQL tracker store, which analytics reads in the embedded profile
    tracker_url: str = DEFAULT_TRACKER_URL
    events_queue: str = "kefu_events"
    events_exchange: str = "kefu-events"
    rasa_instances: int = 1
    action_instances: int = 1
    #: production: where the action servers are reached (the balancer), the
    #: run directory, the interface a containerised Rasa listens on
    action_url: Optional[str] = None
    run_dir: Path = PROJECT_ROOT / "var" / "prod"
    rasa_host: str = "127.0.0.1"
    # Order proofs (docs/security.md): wrong proofs tolerated per
    # conversation (in 10 minutes), per order and per client address (in a
    # day, then a doubling wait) and from everyone (in 10 minutes); how long
    # a proof lasts.
    proof_per_conversation: int = 3
    proof_per_order: int = 5
    proof_per_client: int = 20
    proof_everyone: int = 200
    proof_ttl_seconds: int = 1800
    #: addresses (or CIDR ranges) of the proxies whose X-Real-IP is believed
    #: (nginx in production); from anyone else the peer address counts
    trusted_proxies: Tuple[str, ...] = ()
    #: origins allowed to call Rasa's HTTP API from a browser (none by default)
    cors_origins: Tuple[str, ...] = ()
    service_hours_path: Path = PROJECT_ROOT / "service_hours.yml"
    #: skill groups, who backs whom, when a wait overflows (kefu/routing/)
    routing_path: Path = PROJECT_ROOT / "routing.yml"
    #: abuse and escalation words, complaint categories (kefu/risk/)
    risk_path: Path = PROJECT_ROOT / "risk.yml"
    desk: DeskOptions = field(default_factory=DeskOptions)
    notify: NotifyOptions = field(default_factory=NotifyOptions)
    evidence: EvidenceOptions = field(default_factory=EvidenceOptions)


def _reader(source: Mapping[str, str]) -> Callable[[str, str], str]:
    def read(name: str, default: str) -> str:
        return (source.get(name) or "").strip() or default

    return read


def _list(text: str) -> Tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _flag(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def _desk(env: Callable[[str, str], str]) -> DeskOptions:
    return DeskOptions(
        rasa_url=env("KEFU_RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
        host=env("KEFU_DESK_HOST", "127.0.0.1"),
        port=int(env("KEFU_DESK_PORT", "5006")),
        session_hours=float(env("KEFU_DESK_SESSION_HOURS", "8")),
        secure_cookie=_flag(env("KEFU_DESK_SECURE_COOKIE", "")),
        poll_seconds=float(env("KEFU_DESK_POLL_SECONDS", "1")),
        presence_seconds=int(env("KEFU_DESK_PRESENCE_SECONDS", "90")),
        managers=tuple(m.lower() for m in _list(env("KEFU_DESK_MANAGERS", ""))),
        trainers=tuple(m.lower() for m in _list(env("KEFU_DESK_TRAINERS", ""))),
        supervisors=tuple(m.lower() for m in _list(env("KEFU_DESK_SUPERVISORS", ""))),
        analytics_ingest_seconds=float(env("KEFU_ANALYTICS_INGEST_SECONDS", "60")),
        queue_news_seconds=float(env("KEFU_DESK_QUEUE_NEWS_SECONDS", "5")),
    )


def _notify(env: Callable[[str, str], str]) -> NotifyOptions:
    return NotifyOptions(
        quiet_hours=env("KEFU_NOTIFY_QUIET_HOURS", "22:00-08:00"),
        daily_cap=int(env("KEFU_NOTIFY_DAILY_CAP", "3")),
        delay_hours=float(env("KEFU_NOTIFY_DELAY_HOURS", "48")),
        poll_seconds=float(env("KEFU_NOTIFY_POLL_SECONDS", "2")),
        max_attempts=int(env("KEFU_NOTIFY_MAX_ATTEMPTS", "6")),
        first_retry_seconds=float(env("KEFU_NOTIFY_RETRY_SECONDS", "30")),
        webhook_window_seconds=int(env("KEFU_SHOP_WEBHOOK_WINDOW_SECONDS", "300")),
    )


def _evidence(env: Callable[[str, str], str]) -> EvidenceOptions:
    storage = env("KEFU_EVIDENCE_STORAGE", "local").lower()
    if storage not in ("local", "s3"):
        raise ValueError(f"KEFU_EVIDENCE_STORAGE must be local or s3, not {storage!r}")
    return EvidenceOptions(
        storage=storage,
        directory=Path(env("KEFU_EVIDENCE_DIR", str(PROJECT_ROOT / "var" / "evidence"))),
        s3_endpoint=env("KEFU_S3_ENDPOINT", "") or None,
        s3_bucket=env("KEFU_S3_BUCKET", "kefu-evidence"),
        s3_region=env("KEFU_S3_REGION", "us-east-1"),
        max_bytes=int(env("KEFU_EVIDENCE_MAX_BYTES", "8000000")),
        max_photos=int(env("KEFU_EVIDENCE_MAX_PHOTOS", "6")),
        link_seconds=int(env("KEFU_EVIDENCE_LINK_SECONDS", "600")),
    )


def load_settings(env: Optional[Mapping[str, str]] = None) -> Settings:
    """Read the settings from ``env`` (the process environment by default),
    with the embedded defaults.

    The process environment's settings are kept per snapshot of it: actions
    ask for them several times a call, building them costs about five times
    taking the snapshot, and a changed environment (a test, a reload) still
    gets its own settings at once."""
    if env is None:
        return _settings_of(frozenset(os.environ.items()))
    return _read_settings(env)


@lru_cache(maxsize=8)
def _settings_of(environment: FrozenSet[Tuple[str, str]]) -> Settings:
    return _read_settings(dict(environment))


def _read_settings(env: Mapping[str, str]) -> Settings:
    read = _reader(env)
    profile = read("KEFU_PROFILE", "embedded").lower()
    if profile not in PROFILES:
        raise ValueError(f"KEFU_PROFILE must be one of {', '.join(PROFILES)}, not {profile!r}")
    production = profile == "production"

    def server(name: str, embedded: Optional[str]) -> Optional[str]:
        return read(name, "") or (PRODUCTION_DEFAULTS[name] if production else embedded)

    return Settings(
        database_url=server("DATABASE_URL", f"sqlite:///{DEFAULT_SQLITE_PATH}") or "",
        redis_url=server("REDIS_URL", None),
        default_language=read("KEFU_DEFAULT_LANGUAGE", "zh"),
        profile=profile,
        rabbitmq_url=server("RABBITMQ_URL", None),
        tracker_url=read("KEFU_TRACKER_URL", DEFAULT_TRACKER_URL),
        events_queue=read("KEFU_EVENTS_QUEUE", "kefu_events"),
        events_exchange=read("KEFU_EVENTS_EXCHANGE", "kefu-events"),
        rasa_instances=int(read("KEFU_RASA_INSTANCES", "2" if production else "1")),
        action_instances=int(read("KEFU_ACTION_INSTANCES", "2" if production else "1")),
        action_url=read("KEFU_ACTION_URL", "") or None,
        run_dir=Path(read("KEFU_RUN_DIR", str(PROJECT_ROOT / "var" / "prod"))),
        rasa_host=read("KEFU_RASA_HOST", "127.0.0.1"),
        proof_per_conversation=int(read("KEFU_PROOF_PER_CONVERSATION", "3")),
        proof_per_order=int(read("KEFU_PROOF_PER_ORDER", "5")),
        proof_per_client=int(read("KEFU_PROOF_PER_CLIENT", "20")),
        proof_everyone=int(read("KEFU_PROOF_EVERYONE", "200")),
        proof_ttl_seconds=int(read("KEFU_PROOF_TTL_SECONDS", "1800")),
        trusted_proxies=_list(read("KEFU_TRUSTED_PROXIES", "127.0.0.1,::1" if production else "")),
        cors_origins=_list(read("KEFU_CORS_ORIGINS", "")),
        service_hours_path=Path(read("KEFU_SERVICE_HOURS", str(PROJECT_ROOT / "service_hours.yml"))),
        routing_path=Path(read("KEFU_ROUTING", str(PROJECT_ROOT / "routing.yml"))),
        risk_path=Path(read("KEFU_RISK", str(PROJECT_ROOT / "risk.yml"))),
        desk=_desk(read),
        notify=_notify(read),
        evidence=_evidence(read),
    )

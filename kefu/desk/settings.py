"""The desk's settings, from the environment (see docs/agent-desk.md)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from kefu.config import load_settings
from kefu.core.secrets import secret


@dataclass(frozen=True)
class DeskSettings:
    database_url: str
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_jwt_secret: str = field(default="", repr=False)  # signs the desk's calls to Rasa's API
    host: str = "127.0.0.1"
    port: int = 5006
    session_hours: float = 8.0
    secure_cookie: bool = False  # set KEFU_DESK_SECURE_COOKIE=1 behind HTTPS
    poll_seconds: float = 1.0  # how often the database is checked for changes to push
    presence_seconds: int = 90  # an agent unseen for longer gets no new chats
    rasa_timeout: float = 10.0
    #: proxies whose X-Real-IP is believed for the client address (login locks)
    trusted_proxies: tuple = ()


def load_desk_settings() -> DeskSettings:
    env = os.environ.get
    return DeskSettings(
        database_url=load_settings().database_url,
        rasa_url=(env("KEFU_RASA_URL") or "http://127.0.0.1:5005").rstrip("/"),
        rasa_jwt_secret=secret("rasa_jwt_secret"),
        host=env("KEFU_DESK_HOST") or "127.0.0.1",
        port=int(env("KEFU_DESK_PORT") or 5006),
        session_hours=float(env("KEFU_DESK_SESSION_HOURS") or 8),
        secure_cookie=(env("KEFU_DESK_SECURE_COOKIE") or "").lower() in ("1", "true", "yes"),
        poll_seconds=float(env("KEFU_DESK_POLL_SECONDS") or 1.0),
        presence_seconds=int(env("KEFU_DESK_PRESENCE_SECONDS") or 90),
        trusted_proxies=load_settings().trusted_proxies,
    )

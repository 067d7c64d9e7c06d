"""What the desk app needs to run: its options from the one settings loader
(``kefu.core.config``), the shop database and the secret that signs its
calls to Rasa's API. Nothing here reads the environment."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Tuple

from kefu.core.config import NotifyOptions, Settings, load_settings
from kefu.core.secrets import secret


@dataclass(frozen=True)
class DeskSettings:
    database_url: str
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_jwt_secret: str = field(default="", repr=False)  # signs the desk's calls to Rasa's API
    host: str = "127.0.0.1"
    port: int = 5006
    session_hours: float = 8.0
    secure_cookie: bool = False
    poll_seconds: float = 1.0
    presence_seconds: int = 90
    rasa_timeout: float = 10.0
    #: proxies whose X-Real-IP is believed for the client address (login locks)
    trusted_proxies: Tuple[str, ...] = ()
    #: order news: the shop's webhook (POST /shop/events) and the outbox's
    #: dispatcher run in the desk process (kefu/notify/)
    notify: NotifyOptions = field(default_factory=NotifyOptions)
    #: how often waiting shoppers' places are checked for news (the honest queue)
    queue_news_seconds: float = 5.0
    shop_webhook_secret: str = field(default="", repr=False)
    service_hours_path: Optional[Path] = None


def load_desk_settings(settings: Optional[Settings] = None) -> DeskSettings:
    settings = settings or load_settings()
    desk = settings.desk
    return DeskSettings(
        database_url=settings.database_url, rasa_url=desk.rasa_url, rasa_jwt_secret=secret("rasa_jwt_secret"),
        host=desk.host, port=desk.port, session_hours=desk.session_hours, secure_cookie=desk.secure_cookie,
        poll_seconds=desk.poll_seconds, presence_seconds=desk.presence_seconds, rasa_timeout=desk.rasa_timeout,
        trusted_proxies=settings.trusted_proxies, notify=settings.notify, queue_news_seconds=desk.queue_news_seconds,
        shop_webhook_secret=secret("shop_webhook_secret"), service_hours_path=settings.service_hours_path,
    )

"""Shared fixtures: a real shop database, and Kefu's servers running on a
trained model for the end-to-end tests."""
from __future__ import annotations

import os
import shutil
import socket
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kefu.store.db import create_database_if_missing, make_engine, migrate
from kefu.store.seed import seed
from kefu.store.shop import ShopStore

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "kefu.tar.gz"
IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("KEFU_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
#: the database the store tests create and empty on that server
POSTGRES_TEST_DB = os.environ.get("KEFU_TEST_POSTGRES_DB", "kefu_test")


#: the shop's clock in these tests: demo orders are placed relative to it
NOW = datetime.now(timezone.utc)


def _postgres_or_skip() -> str:
    """A database of Kefu's own on the test PostgreSQL server (created on
    first use), emptied; skipped on a laptop without a server, a failure
    under CI where it must be there. Emptied by dropping its schema, so
    tables from any other version of the models go too."""
    try:
        with create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3}).connect() as db:
            db.execute(text("select 1"))
    except Exception as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} must be reachable under CI: {error}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL} on this machine ({type(error).__name__})")
    url = make_url(POSTGRES_URL).set(database=POSTGRES_TEST_DB).render_as_string(hide_password=False)
    create_database_if_missing(url)
    engine = create_engine(url)
    with engine.begin() as db:
        db.execute(text("drop schema public cascade"))
        db.execute(text("create schema public"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """Every store and action test runs on both databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shop.db'}"
    return _postgres_or_skip()


@pytest.fixture
def engine(db_url):
    migrate(db_url)
    engine = make_engine(db_url)
    seed(engine, orders=80, now=NOW)
    yield engine
    engine.dispose()


@pytest.fixture
def shop(engine) -> ShopStore:
    return ShopStore(engine)


def always_open_hours(directory: Path) -> Path:
    """A service-hours file with agents always at work, so that live tests
    do not depend on the time of day they run at."""
    path = directory / "service_hours.yml"
    days = "".join(f'  {d}: ["00:00", "23:59:59"]\n' for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    path.write_text(f"timezone: UTC\nweekly:\n{days}", encoding="utf-8")
    return path


#: Debian's chromium, which `make browser` installs; Playwright never downloads one
CHROMIUM = os.environ.get("KEFU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def launch_chromium(playwright):
    """Headless Chromium for a browser test: skipped on a laptop without
    it, a failure under CI, where `make test` installs it."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        if IN_CI:
            pytest.fail(f"no Chromium at {CHROMIUM}: make test installs it, and under CI it must be there")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def serve_blueprint(blueprint: Any, url_prefix: str, name: str) -> Tuple[Any, int]:
    """A connector's blueprint on a Sanic app of its own, started on a free
    local port: the server (the test closes it) and the port."""
    from sanic import Sanic

    app = Sanic(f"{name}_{uuid.uuid4().hex[:8]}")
    app.blueprint(blueprint, url_prefix=url_prefix)
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    return server, port


@pytest.fixture(scope="session")
def shop_url(tmp_path_factory) -> str:
    """A migrated and seeded SQLite shop, shared by the live-server tests."""
    url = f"sqlite:///{tmp_path_factory.mktemp('shop') / 'kefu.db'}"
    migrate(url)
    seed(make_engine(url), orders=300)
    return url


#: 张三's delivered dress, the one demo order a return can be asked for
RETURNABLE_ORDER = "2611010000000003"


@pytest.fixture
def returnable(shop_url) -> str:
    """The returnable demo order with no after-sale request yet: several
    live tests ask for its return in one shared shop, and a second request
    for one order is (rightly) answered with the first one's status."""
    with make_engine(shop_url).begin() as db:
        numbers = [row[0] for row in db.execute(
            text("select number from aftersale_requests where order_id = :o"), {"o": RETURNABLE_ORDER})]
        for number in numbers:
            db.execute(text("update evidence set aftersale_number = null where aftersale_number = :n"), {"n": number})
            db.execute(text("delete from aftersale_requests where number = :n"), {"n": number})
    return RETURNABLE_ORDER


def rasa_api() -> requests.Session:
    """A client of Rasa's HTTP API as the desk is one: every call carries a
    short-lived JWT signed with the servers' secret (kefu/ops/rasa_server.py)."""
    from kefu.core.secrets import secret
    from kefu.desk.rasa import api_token

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api_token(secret('rasa_jwt_secret'))}"
    return session


def start_kefu(
    workdir: Path,
    shop_url: str,
    credentials: Optional[str] = None,
    env: Optional[Dict[str, str]] = None,
    tracker_db: Optional[Path] = None,
    rasa_port: Optional[int] = None,
    api: bool = False,
    desk_port: Optional[int] = None,
):
    """Kefu's action and Rasa servers on the trained model, on free ports,
    with a SQLite tracker store, the test shop, agents always at work and
    ``credentials`` (the text of a credentials.yml; the project's own when
    None); Rasa's HTTP API only with ``api`` (and a JWT, :func:`rasa_api`).
    Every live test starts its servers through here."""
    from kefu.ops import embedded

    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train` (make test does it)")
    workdir.mkdir(parents=True, exist_ok=True)
    action_port, rasa_port = free_port(), rasa_port or free_port()
    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{action_port}/webhook"\n'
        "  headers:\n    X-Kefu-Action-Token: ${KEFU_ACTION_TOKEN}\n  enable_selective_domain: true\n"
        "lock_store:\n  type: kefu.dialogue.lock_store.PromptInMemoryLockStore\n"
        "tracker_store:\n  type: kefu.dialogue.tracker_store.PooledSQLTrackerStore\n"
        f'  dialect: sqlite\n  db: "{tracker_db or workdir / "tracker.db"}"\n',
        encoding="utf-8",
    )
    credentials_file = ROOT / "credentials.yml"
    if credentials is not None:
        credentials_file = workdir / "credentials.yml"
        credentials_file.write_text(credentials, encoding="utf-8")
    environment = {"DATABASE_URL": shop_url, "KEFU_SERVICE_HOURS": str(always_open_hours(workdir)), **(env or {})}
    return embedded.start(
        model=str(MODEL), rasa_port=rasa_port, action_port=action_port, endpoints=str(endpoints),
        credentials=str(credentials_file), env=environment, log_dir=workdir, api=api, desk_port=desk_port,
    )


@pytest.fixture(scope="session")
def kefu(shop_url, tmp_path_factory):
    """Kefu on the project's credentials.yml (REST and the web widget), with
    Rasa's API on for the tests that act as the desk (:func:`rasa_api`)."""
    servers = start_kefu(tmp_path_factory.mktemp("servers"), shop_url, api=True)
    yield servers
    servers.stop()


class Chat:
    """One shopper talking to Kefu over the REST channel (their conversation
    is ``rest:<sender>``)."""

    def __init__(self, base_url: str, sender: str) -> None:
        self.url = f"{base_url}/webhooks/rest/webhook"
        self.sender = sender
        self.conversation_id = f"rest:{sender}"

    def say(self, text: str) -> List[str]:
        response = requests.post(self.url, json={"sender": self.sender, "message": text}, timeout=60)
        response.raise_for_status()
        return [m.get("text", "") for m in response.json()]

    def said(self, text: str) -> str:
        """All replies to ``text`` joined, for substring assertions."""
        return "\n".join(self.say(text))


@pytest.fixture
def chat(kefu) -> Chat:
    return Chat(kefu.rasa_url, f"test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def new_chat(kefu):
    def make(sender: str | None = None) -> Chat:
        return Chat(kefu.rasa_url, sender or f"test-{uuid.uuid4().hex[:12]}")

    return make

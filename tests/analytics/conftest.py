"""Fixtures: the seeded conversations in a SQL tracker store, a shop
database holding their handoffs and ratings, and the desk (from
tests/desk/conftest.py) with the dashboard registered."""
from __future__ import annotations

import pytest

from kefu.desk.app import create_app
from kefu.desk.dashboard import register
from kefu.desk.settings import DeskSettings
from kefu.store.db import make_engine, migrate
from tests.analytics.seeded import create_tracker_store, day1_events, seed_shop, write_events
from tests.desk.conftest import JWT_SECRET, ServedApp, desk_store, desk_url, fake_rasa, make_agent  # noqa: F401 - fixtures pytest finds by name


@pytest.fixture
def tracker_url(tmp_path) -> str:
    """Rasa's SQL tracker store holding the day-1 conversations."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    create_tracker_store(url)
    write_events(url, day1_events())
    return url


@pytest.fixture
def shop_engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate(url)
    engine = make_engine(url)
    engine.url_text = url
    seed_shop(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def dashboard(desk_url, desk_store, fake_rasa, tracker_url):  # noqa: F811 - pytest passes the imported fixtures
    """The desk app with the dashboard, on the seeded shop (SQLite and PostgreSQL)."""
    seed_shop(desk_store.engine)
    settings = DeskSettings(database_url=desk_url, rasa_url=fake_rasa.url, rasa_jwt_secret=JWT_SECRET,
                            session_hours=8, poll_seconds=0.2)
    app = create_app(settings)
    register(app, managers=[], tracker_url=tracker_url, ingest_seconds=0)
    server = ServedApp(app)
    yield server
    server.stop()

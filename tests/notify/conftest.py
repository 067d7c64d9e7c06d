"""Order news under test: the desk app (which serves the shop's webhook and
runs the outbox) on a real shop database, SQLite and PostgreSQL, beside the
fake Rasa of the desk tests."""
from __future__ import annotations

import json
import time
from typing import Any, Dict, Optional

import httpx
import pytest
from sqlalchemy import select

from kefu.core.config import NotifyOptions
from kefu.desk.app import create_app
from kefu.desk.settings import DeskSettings
from kefu.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from kefu.store.db import make_engine, migrate, session_scope
from kefu.store.models import ChannelIdentity, Order
from kefu.store.notify import NotifyStore
from kefu.store.seed import seed
from tests.conftest import NOW
from tests.desk.conftest import JWT_SECRET, FakeRasa, ServedApp

WEBHOOK_SECRET = "shop-webhook-test-secret-0123456789"


def signed(event: Dict[str, Any], secret: str = WEBHOOK_SECRET, at: Optional[float] = None) -> Dict[str, Any]:
    """The keyword arguments of an httpx post the shop would make."""
    body = json.dumps(event, ensure_ascii=False).encode()
    timestamp = str(int(at if at is not None else time.time()))
    return {"content": body, "headers": {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
                                         SIGNATURE_HEADER: sign(secret, timestamp, body)}}


def order_with(url: str, status: str, linked: bool = False) -> Order:
    """A seeded order in ``status`` whose customer the shop linked (or did
    not link) to a WeChat or Telegram identity."""
    linked_customers = select(ChannelIdentity.customer_id)
    owner = Order.customer_id.in_(linked_customers) if linked else Order.customer_id.not_in(linked_customers)
    with session_scope(make_engine(url)) as s:
        order = s.execute(select(Order).where(Order.status == status, owner).order_by(Order.id)).scalars().first()
        assert order is not None, f"the seeded shop has no {status} order"
        s.expunge(order)
        return order


@pytest.fixture
def shop_db(db_url) -> str:
    """A migrated shop with a few demo orders, on SQLite and PostgreSQL."""
    migrate(db_url)
    engine = make_engine(db_url)
    seed(engine, orders=12, now=NOW)
    engine.dispose()
    return db_url


@pytest.fixture
def rasa_fake(shop_db):
    rasa = FakeRasa(jwt_secret=JWT_SECRET)
    yield rasa
    rasa.stop()


@pytest.fixture
def notify_store(shop_db):
    engine = make_engine(shop_db)
    yield NotifyStore(engine)
    engine.dispose()


@pytest.fixture
def shop_desk(shop_db, rasa_fake, tmp_path):
    """The desk with the webhook secret, quiet hours off, a fast outbox."""
    hours = tmp_path / "hours.yml"
    hours.write_text("timezone: Asia/Shanghai\nweekly: {}\n", encoding="utf-8")
    settings = DeskSettings(database_url=shop_db, rasa_url=rasa_fake.url, rasa_jwt_secret=JWT_SECRET,
                            poll_seconds=0.2, shop_webhook_secret=WEBHOOK_SECRET, service_hours_path=hours,
                            notify=NotifyOptions(quiet_hours="off", poll_seconds=0.1, first_retry_seconds=0.2))
    server = ServedApp(create_app(settings))
    yield server
    server.stop()


@pytest.fixture
def shop_client(shop_desk):
    with httpx.Client(base_url=shop_desk.url, timeout=15) as client:
        yield client

"""The production profile's servers: Redis, PostgreSQL and RabbitMQ on this
machine (under CI they must be there; on a laptop without them these tests
skip, saying which one is missing)."""
from __future__ import annotations

import os
import socket
import uuid
from urllib.parse import urlparse

import pytest

from tests.conftest import IN_CI, POSTGRES_URL

REDIS_URL = os.environ.get("KEFU_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("KEFU_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def _absent(what: str, url: str, error: Exception) -> None:
    if IN_CI:
        pytest.fail(f"{what} at {url} must be reachable under CI: {error}")
    pytest.skip(f"no {what} at {url} on this machine ({type(error).__name__}: {error})")


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as error:
        _absent("Redis", REDIS_URL, error)
    return REDIS_URL


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    parsed = urlparse(RABBITMQ_URL)
    try:
        socket.create_connection((parsed.hostname, parsed.port or 5672), timeout=3).close()
    except Exception as error:
        _absent("RabbitMQ", RABBITMQ_URL, error)
    return RABBITMQ_URL


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The test PostgreSQL server's URL (its `test` database)."""
    from sqlalchemy import create_engine, text

    try:
        with create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3}).connect() as db:
            db.execute(text("select 1"))
    except Exception as error:
        _absent("PostgreSQL", POSTGRES_URL, error)
    return POSTGRES_URL


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own in the shared Redis."""
    return f"kefu-test-{uuid.uuid4().hex[:8]}:"

"""The production source: events Rasa's pika broker publishes to RabbitMQ
(JSON with sender_id) give the same figures as the tracker store. Runs
against the RabbitMQ at RABBITMQ_URL (default 127.0.0.1:5672) on a queue of
its own; skipped when there is none, except under CI."""
from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date

import pytest

from kefu.analytics import ingest, metrics
from tests.analytics.seeded import DAY1_ONLY, assert_figures, day1_events
from tests.conftest import IN_CI

aio_pika = pytest.importorskip("aio_pika")


async def _publish(url: str, queue: str, bodies) -> None:
    connection = await aio_pika.connect_robust(url, timeout=5)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        for body in bodies:
            await channel.default_exchange.publish(aio_pika.Message(body=body), routing_key=queue)


async def _delete(url: str, queue: str) -> None:
    connection = await aio_pika.connect_robust(url, timeout=5)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)


@pytest.fixture
def rabbitmq() -> str:
    url = ingest.rabbitmq_url()
    try:
        asyncio.run(asyncio.wait_for(_publish(url, "kefu_events_probe", []), 8))
        asyncio.run(_delete(url, "kefu_events_probe"))
    except Exception as error:
        if IN_CI:
            pytest.fail(f"RabbitMQ at {url} must be reachable under CI: {error!r}")
        pytest.skip(f"no RabbitMQ at {url} on this machine ({type(error).__name__})")
    return url


def test_broker_events_give_the_same_figures(rabbitmq, shop_engine):
    queue = f"kefu_events_test_{uuid.uuid4().hex[:8]}"
    bodies = [json.dumps({"sender_id": sender, **event}).encode() for sender, event in day1_events()]
    duplicate = next(b for b in bodies if b'"event": "user"' in b)
    try:
        asyncio.run(_publish(rabbitmq, queue, [*bodies, duplicate, b"not json"]))
        taken = asyncio.run(ingest.consume_rabbitmq(shop_engine, rabbitmq, queue, idle_seconds=1.5))
        assert taken == len(bodies) + 2
        assert ingest.cursor_position(shop_engine, ingest.BROKER_SOURCE) == len(bodies) + 1  # the JSON ones
        # acknowledged: nothing is left for a second consumer
        assert asyncio.run(ingest.consume_rabbitmq(shop_engine, rabbitmq, queue, idle_seconds=0.5)) == 0
    finally:
        asyncio.run(_delete(rabbitmq, queue))
    assert_figures(metrics.compute(shop_engine, *metrics.day_range(date(2026, 3, 2), date(2026, 3, 2))), DAY1_ONLY)

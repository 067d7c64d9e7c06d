"""The two sources of conversation events.

* **SQL tracker store** (the embedded default, ``var/tracker.db``): Rasa's
  ``events`` table is read in ``id`` order from the cursor kept in
  ``analytics_cursors`` (source ``tracker_store``), in batches, each batch one
  transaction with its cursor: an interrupted ingest resumes where it stopped,
  and running it again only reads new events.
* **RabbitMQ** (production): Rasa's pika event broker publishes every event
  as JSON with its ``sender_id`` to the queue ``kefu_events``;
  :func:`consume_rabbitmq` folds each message and acknowledges it after its
  transaction committed (a crash redelivers it; a user event already folded is
  recognised by sender and timestamp).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any, Dict, Optional

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from kefu.analytics.events import apply_event
from kefu.core.clock import to_db, utcnow
from kefu.core.config import PRODUCTION_DEFAULTS, load_settings
from kefu.store.db import session_scope
from kefu.store.models import AnalyticsCursor

logger = logging.getLogger(__name__)

TRACKER_SOURCE = "tracker_store"
BROKER_SOURCE = "rabbitmq"
DEFAULT_QUEUE = "kefu_events"


def tracker_url() -> str:
    """``KEFU_TRACKER_URL`` (any SQLAlchemy URL of Rasa's SQL tracker store),
    else the embedded ``var/tracker.db``."""
    return load_settings().tracker_url


def rabbitmq_url() -> str:
    """The broker Rasa publishes to: the production profile's (the one
    loader's default, not one of our own)."""
    return load_settings().rabbitmq_url or PRODUCTION_DEFAULTS["RABBITMQ_URL"]


def _cursor(s: Any, source: str) -> AnalyticsCursor:
    cursor = s.get(AnalyticsCursor, source)
    if cursor is None:
        cursor = AnalyticsCursor(source=source, position=0, updated_at=to_db(utcnow()))
        s.add(cursor)
        s.flush()
    return cursor


def cursor_position(engine: Engine, source: str = TRACKER_SOURCE) -> int:
    with session_scope(engine) as s:
        cursor = s.get(AnalyticsCursor, source)
        return int(cursor.position) if cursor else 0


def _decode(raw: Any) -> Optional[Dict[str, Any]]:
    try:
        value = json.loads(raw) if isinstance(raw, (str, bytes, bytearray)) else raw
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def ingest_tracker_store(engine: Engine, source_url: Optional[str] = None, batch_size: int = 500) -> int:
    """Fold the tracker store's new events; how many events were read."""
    url = source_url or tracker_url()
    if url.startswith("sqlite:///"):
        path = url.split("///", 1)[1]
        if path and path != ":memory:" and not os.path.exists(path):
            logger.info("no tracker store at %s yet: nothing to ingest", path)
            return 0
    source = create_engine(url, future=True)
    read = 0
    try:
        with source.connect() as db:
            if not source.dialect.has_table(db, "events"):
                return 0
        while True:
            with session_scope(engine) as s:
                cursor = _cursor(s, TRACKER_SOURCE)
                with source.connect() as db:
                    rows = db.execute(
                        text("SELECT id, sender_id, data FROM events WHERE id > :after ORDER BY id LIMIT :n"),
                        {"after": int(cursor.position), "n": batch_size},
                    ).all()
                for row_id, sender_id, data in rows:
                    event = _decode(data)
                    if event is not None:
                        apply_event(s, event, sender_id=sender_id)
                    cursor.position = int(row_id)
                if rows:
                    cursor.updated_at = to_db(utcnow())
            read += len(rows)
            if len(rows) < batch_size:
                return read
    finally:
        source.dispose()


def fold_message(engine: Engine, body: bytes) -> bool:
    """Fold one broker message (one transaction); False if it is not an event."""
    event = _decode(body)
    if event is None:
        logger.warning("analytics: a broker message that is not a JSON event was dropped")
        return False
    with session_scope(engine) as s:
        apply_event(s, event)
        cursor = _cursor(s, BROKER_SOURCE)
        cursor.position = int(cursor.position) + 1
        cursor.updated_at = to_db(utcnow())
    return True


async def consume_rabbitmq(engine: Engine, url: Optional[str] = None, queue: str = DEFAULT_QUEUE,
                           idle_seconds: Optional[float] = None, max_messages: Optional[int] = None) -> int:
    """Consume ``queue`` until stopped, or until ``idle_seconds`` pass without
    a message, or ``max_messages`` were taken; how many were taken. The queue
    is declared as Rasa's pika broker declares it (durable)."""
    import aio_pika

    connection = await aio_pika.connect_robust(url or rabbitmq_url(), timeout=10)
    taken = 0
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=100)
        declared = await channel.declare_queue(queue, durable=True)
        async with declared.iterator() as messages:
            while max_messages is None or taken < max_messages:
                try:
                    if idle_seconds is None:
                        message = await messages.__anext__()
                    else:
                        message = await asyncio.wait_for(messages.__anext__(), timeout=idle_seconds)
                except (asyncio.TimeoutError, StopAsyncIteration):
                    break
                await asyncio.to_thread(fold_message, engine, message.body)
                await message.ack()
                taken += 1
    finally:
        await connection.close()
    return taken

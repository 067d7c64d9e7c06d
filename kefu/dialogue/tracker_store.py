"""Rasa's tracker stores, with a turn's cost bounded by one session.

:class:`SessionRedisTrackerStore` (production). Rasa's ``RedisTrackerStore``
keeps a conversation's whole history under one key: every save reads it back,
parses it, replays it to merge in the new events and writes it all again, and
with an event broker it is parsed once more to find the new events. A shopper
who comes back for months makes each of their turns dearer than the last.

Here the key holds the current session only. When a turn starts a new
session, the sessions before it are appended to an archive list (one JSON
dialogue per session) and leave the key, so a turn reads, parses and writes
one session whatever the history. Nothing is lost: ``retrieve_full_tracker``
(Rasa's HTTP API, the agent desk's transcript) joins the archive and the
current session. Both expire ``record_exp`` seconds after the last write,
so a silent conversation is forgotten in one piece.

Saving without merging is safe because Rasa's lock store serialises the
turns of a conversation (every instance shares the Redis lock store in the
production profile): no two saves of one conversation overlap.

:class:`PooledSQLTrackerStore` (``make run``, SQLite). Rasa's SQL store
already loads one session per turn, but on SQLAlchemy 1.4 it opens a new
SQLite connection for each of a turn's transactions and commits in SQLite's
rollback-journal mode: a fifth of Rasa's CPU per reply under load
(reports/perf/). The engine here comes from :func:`kefu.store.db.make_engine`,
the shop database's: pooled connections, WAL journal.
"""
from __future__ import annotations

import json
from typing import Any, List, Optional, Text

from rasa.core.tracker_store import RedisTrackerStore, SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker, get_trackers_for_conversation_sessions
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from kefu.store.db import make_engine

ARCHIVE_PART = "archive:"


class SessionRedisTrackerStore(RedisTrackerStore):
    """``RedisTrackerStore`` whose key holds the current session only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: "kefu:tracker:" -> "kefu:tracker:archive:" (``keys()`` still lists senders only)
        self.archive_prefix = self.key_prefix.replace("tracker:", "tracker_" + ARCHIVE_PART, 1)

    async def save(self, tracker: DialogueStateTracker, timeout: Optional[float] = None) -> None:
        await self.stream_events(tracker)
        timeout = timeout or self.record_exp
        sessions = get_trackers_for_conversation_sessions(tracker) if tracker.events else [tracker]
        current = sessions[-1]
        pipe = self.red.pipeline(transaction=True)
        if len(sessions) > 1:
            archive = self.archive_prefix + tracker.sender_id
            pipe.rpush(archive, *(self.serialise_tracker(past) for past in sessions[:-1]))
            if timeout:
                pipe.expire(archive, int(timeout))
        elif timeout:
            pipe.expire(self.archive_prefix + tracker.sender_id, int(timeout))
        pipe.set(self.key_prefix + tracker.sender_id, self.serialise_tracker(current),
                 ex=int(timeout) if timeout else None)
        pipe.execute()

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The current session (all the key holds)."""
        stored = self.red.get(self.key_prefix + sender_id)
        return None if stored is None else self.deserialise_tracker(sender_id, stored)

    async def retrieve_full_tracker(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """Every session kept: the archive, then the current one."""
        current = await self.retrieve(sender_id)
        archived: List[str] = self.red.lrange(self.archive_prefix + sender_id, 0, -1)
        if not archived:
            return current
        events = [event for part in archived for event in json.loads(part).get("events") or []]
        if current is not None:
            events += [event.as_dict() for event in current.events]
        return self.deserialise_tracker(sender_id, json.dumps({"events": events, "name": sender_id}))


class PooledSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` on a pooled WAL engine for SQLite; other databases
    keep Rasa's engine (it reads Rasa's pool and schema settings)."""

    engine: Engine

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # creates the tables
        if self.engine.dialect.name != "sqlite":
            return
        url = self.engine.url.render_as_string(hide_password=False)
        self.engine.dispose()
        self.engine = make_engine(url, future=False)
        self.sessionmaker = sessionmaker(bind=self.engine)

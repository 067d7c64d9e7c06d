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
the shop database's: pooled connections, WAL journal. It also keeps the
latest session of recent conversations in memory, checked against the
database with one indexed query per read, so a turn neither reads its
session's rows back nor counts them before writing the new ones.
"""
from __future__ import annotations

import itertools
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.core.tracker_store import RedisTrackerStore, SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker, get_trackers_for_conversation_sessions
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

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


#: conversations whose session PooledSQLTrackerStore remembers, least recently used first out
REMEMBERED = 2000


@dataclass
class StoredSession:
    """A conversation's latest session as the database holds it: each row's
    timestamp, event type and JSON (never shared objects: each turn parses
    its own copy), and the id of the conversation's newest row when they
    were read or written."""

    newest_id: int
    rows: List[Tuple[float, str, str]]


class PooledSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` on a pooled WAL engine for SQLite (other databases
    keep Rasa's engine: it reads Rasa's pool and schema settings), that
    remembers the latest session of recent conversations.

    Rasa reads a conversation's session back from the database at the start
    of every turn (all its rows, through the ORM) and at the end counts them
    again to find the new events. Here the rows of the session stay in
    memory after a turn; the next turn asks the database one indexed
    question, the id of the conversation's newest row, and reads the rows
    again only if someone else wrote since (another process on the same
    file, a replaced tracker). What is stored, and when, is Rasa's: the same
    rows, written in the turn's one transaction; only the reads are saved.
    """

    engine: Engine

    def __init__(self, *args: Any, remembered: int = REMEMBERED, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # creates the tables
        self.remembered = int(remembered)  # endpoints.yml may set it; 0 reads every turn, as Rasa does
        self._sessions: "OrderedDict[str, StoredSession]" = OrderedDict()
        self._sessions_lock = threading.Lock()
        if self.engine.dialect.name != "sqlite":
            return
        url = self.engine.url.render_as_string(hide_password=False)
        self.engine.dispose()
        self.engine = make_engine(url, future=False)
        self.sessionmaker = sessionmaker(bind=self.engine)

    def _newest_id(self, session: Session, sender_id: Text) -> Optional[int]:
        table = self.SQLEvent.__table__
        return session.execute(select(func.max(table.c.id)).where(table.c.sender_id == sender_id)).scalar()

    def _remembered(self, sender_id: Text, newest_id: Optional[int]) -> Optional[StoredSession]:
        with self._sessions_lock:
            stored = self._sessions.get(sender_id)
            if stored is None or stored.newest_id != newest_id:
                self._sessions.pop(sender_id, None)
                return None
            self._sessions.move_to_end(sender_id)
            return stored

    def _remember(self, sender_id: Text, stored: StoredSession) -> None:
        if not self.remembered:
            return
        with self._sessions_lock:
            self._sessions[sender_id] = stored
            self._sessions.move_to_end(sender_id)
            while len(self._sessions) > self.remembered:
                self._sessions.popitem(last=False)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The latest session, as Rasa's ``retrieve`` gives it."""
        with self.session_scope() as session:
            newest = self._newest_id(session, sender_id)
            if newest is None:
                return None
            stored = self._remembered(sender_id, newest)
            if stored is None:
                rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
                stored = StoredSession(newest, [(row.timestamp or 0.0, row.type_name, row.data) for row in rows])
                self._remember(sender_id, stored)
        if not self.domain or not stored.rows:
            return None
        return DialogueStateTracker.from_dict(sender_id, [json.loads(data) for _, _, data in stored.rows],
                                              self.domain.slots)

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's rows for the events the database does not hold yet."""
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        with self.session_scope() as session:
            stored = self._remembered(sender_id, self._newest_id(session, sender_id))
            held = len(stored.rows) if stored else self._event_query(session, sender_id, False).count()
            rows = [self._row(sender_id, event) for event in itertools.islice(tracker.events, held, None)]
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            newest = self._newest_id(session, sender_id)
            session.commit()
        if newest is None or (stored is None and held):
            return  # rows this store has not seen: read afresh on the next turn
        before = stored.rows if stored else []
        written = [(r["timestamp"] or 0.0, r["type_name"], r["data"]) for r in rows]
        self._remember(sender_id, StoredSession(newest, latest_session(before + written)))

    @staticmethod
    def _row(sender_id: Text, event: Event) -> Dict[str, Any]:
        """The columns Rasa's ``save`` writes for one event."""
        data = event.as_dict()
        return {"sender_id": sender_id, "type_name": event.type_name, "timestamp": data.get("timestamp"),
                "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                "action_name": data.get("name"), "data": json.dumps(data)}


def latest_session(rows: List[Tuple[float, str, str]]) -> List[Tuple[float, str, str]]:
    """The rows Rasa's session query returns of these: those at or after the
    newest ``session_started`` timestamp, or all if there is none."""
    starts = [timestamp for timestamp, kind, _ in rows if kind == SessionStarted.type_name]
    if not starts:
        return rows
    start = max(starts)
    return [row for row in rows if row[0] >= start]

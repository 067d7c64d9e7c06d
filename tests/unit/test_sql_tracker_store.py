"""The embedded profile's tracker store as endpoints.yml configures it, on a
real SQLite file: pooled WAL connections, one session per turn, every session
kept for the transcript, and turns of different shoppers saved at once."""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import yaml
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.pool import QueuePool

ROOT = Path(__file__).resolve().parents[2]


def _store(db: Path) -> TrackerStore:
    config = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))["tracker_store"]
    return TrackerStore.create(EndpointConfig(**{**config, "db": str(db)}), Domain.empty())


def _turn(text: str, reply: str) -> list:
    return [UserUttered(text), BotUttered(reply), ActionExecuted("action_listen")]


def test_the_embedded_store_is_pooled_and_journals_in_wal(tmp_path):
    store = _store(tmp_path / "tracker.db")
    assert type(store).__name__ == "PooledSQLTrackerStore"
    assert isinstance(store.engine.pool, QueuePool)
    asyncio.run(store.save(DialogueStateTracker.from_events("s1", _turn("你好", "亲，在的"))))
    with sqlite3.connect(tmp_path / "tracker.db") as raw:  # the mode is a property of the file
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_turn_loads_its_session_and_the_transcript_keeps_every_session(tmp_path):
    store = _store(tmp_path / "tracker.db")
    first = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
             *_turn("我的订单到哪了", "亲，麻烦提供一下订单号")]
    second = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
              *_turn("谢谢", "不客气")]

    async def scenario():
        await store.save(DialogueStateTracker.from_events("shopper", first))
        tracker = await store.retrieve("shopper")  # each turn starts from the store, as in Rasa
        for event in second:
            tracker.update(event)
        await store.save(tracker)
        await store.save(await store.retrieve("shopper"))  # nothing new: nothing written twice
        return await store.retrieve("shopper"), await store.retrieve_full_tracker("shopper")

    current, full = asyncio.run(scenario())
    assert [e.text for e in current.events if isinstance(e, UserUttered)] == ["谢谢"]
    assert [e.text for e in full.events if isinstance(e, UserUttered)] == ["我的订单到哪了", "谢谢"]
    assert len(full.events) == len(first) + len(second)


def test_shoppers_saved_from_many_threads_all_land(tmp_path):
    store = _store(tmp_path / "tracker.db")

    async def one(n: int) -> None:
        tracker = DialogueStateTracker.from_events(f"s{n}", _turn(f"第{n}个问题", "收到"))
        await asyncio.to_thread(asyncio.run, store.save(tracker))

    async def many() -> None:
        await asyncio.gather(*(one(n) for n in range(24)))

    asyncio.run(many())
    assert sorted(asyncio.run(store.keys())) == sorted(f"s{n}" for n in range(24))
    retrieved = asyncio.run(store.retrieve("s7"))
    assert [e.text for e in retrieved.events if isinstance(e, UserUttered)] == ["第7个问题"]


def _statements(store) -> list:
    from sqlalchemy import event

    seen: list = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: seen.append(" ".join(statement.split())))
    return seen


def _session(text: str) -> list:
    return [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
            *_turn(text, "收到")]


def test_a_turn_reads_its_session_from_memory_and_rasas_store_reads_the_same(tmp_path):
    """After the first turn, a turn asks the database for the newest row's id
    only, and writes its new rows; what it reads equals what Rasa's own SQL
    store reads from the same file, across a new session."""
    from rasa.core.tracker_store import SQLTrackerStore

    store = _store(tmp_path / "tracker.db")
    statements = _statements(store)

    async def turns() -> DialogueStateTracker:
        await store.save(DialogueStateTracker.from_events("shopper", _session("在吗")))
        statements.clear()
        for text in ("我的订单到哪了", "2611010000000003", "谢谢"):
            tracker = await store.retrieve("shopper")
            for event in _turn(text, "好的"):
                tracker.update(event)
            await store.save(tracker)
        tracker = await store.retrieve("shopper")
        for event in _session("又是我"):  # a new session in the same conversation
            tracker.update(event)
        await store.save(tracker)
        return await store.retrieve("shopper")

    ours = asyncio.run(turns())
    reads = [s for s in statements if s.startswith("SELECT") and "events.data" in s]
    assert reads == [], reads  # never the rows again: they are remembered
    assert not any("count(" in s for s in statements)

    rasas = asyncio.run(SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"))
                        .retrieve("shopper"))
    assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in rasas.events]
    assert [e.text for e in ours.events if isinstance(e, UserUttered)] == ["又是我"]


def test_rows_someone_else_wrote_are_read_again(tmp_path):
    """A second store on the same file (another process, a replaced tracker)
    writes: the first one's memory of the session is not used."""
    first, second = _store(tmp_path / "tracker.db"), _store(tmp_path / "tracker.db")

    async def scenario():
        await first.save(DialogueStateTracker.from_events("shopper", _session("你好")))
        assert len((await first.retrieve("shopper")).events) == 5  # from SessionStarted on
        elsewhere = await second.retrieve("shopper")
        for event in _turn("发票怎么开", "亲，可以开电子发票"):
            elsewhere.update(event)
        await second.save(elsewhere)
        mine = await first.retrieve("shopper")  # sees the other writer's turn
        for event in _turn("好的", "不客气"):
            mine.update(event)
        await first.save(mine)  # and writes after it, not over it
        return await second.retrieve("shopper")

    final = asyncio.run(scenario())
    assert [e.text for e in final.events if isinstance(e, UserUttered)] == ["你好", "发票怎么开", "好的"]
    with sqlite3.connect(tmp_path / "tracker.db") as raw:
        assert raw.execute("SELECT count(*) FROM events").fetchone()[0] == 12

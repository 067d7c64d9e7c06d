"""The embedded tracker store alone: what a turn's read and write cost.

A turn of Rasa reads the conversation's session from the tracker store,
adds the turn's events and saves it. Here that is done in-process on a
fresh SQLite file, for 20 conversations of 12 turns (six events a turn, as
Kefu's order lookup writes), with three stores in alternation, several
rounds, so that the machine's noise falls on all of them alike:

* ``rasa``: Rasa's own ``SQLTrackerStore``, as Rasa ships it;
* ``kefu-forgetful``: Kefu's ``PooledSQLTrackerStore`` with ``remembered: 0``
  (pooled WAL engine, core inserts, but the session read back every turn);
* ``kefu``: Kefu's store as endpoints.yml configures it.

``python -m bench.perf.stores`` writes reports/perf/tracker-store/store.{json,md}.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from kefu.core.config import PROJECT_ROOT
from kefu.dialogue.tracker_store import PooledSQLTrackerStore

REPORTS = PROJECT_ROOT / "reports" / "perf" / "tracker-store"
PARSE = {"text": "我的订单到哪了", "intent": {"name": "check_order_status", "confidence": 0.93}, "entities": [],
         "intent_ranking": [{"name": f"intent_{n}", "confidence": 0.007} for n in range(10)],
         "response_selector": {"all_retrieval_intents": ["faq", "ask_shipping_time", "payment_problem"]}}
STORES: Dict[str, Callable[[Path], TrackerStore]] = {
    "rasa": lambda db: SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(db)),
    "kefu-forgetful": lambda db: PooledSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(db), remembered=0),
    "kefu": lambda db: PooledSQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(db)),
}


def turn_events() -> List[Event]:
    return [UserUttered(PARSE["text"], PARSE["intent"], [], PARSE), SlotSet("language", "zh"),
            ActionExecuted("action_order_status"), BotUttered("亲，您的订单已签收", {}, {}),
            SlotSet("order_id", "2611010000000003"), ActionExecuted("action_listen")]


async def conversations(store: TrackerStore, senders: int, turns: int) -> List[List[float]]:
    """Seconds per turn: a row per turn number, a value per conversation."""
    start = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
    for sender in range(senders):
        await store.save(DialogueStateTracker.from_events(f"shopper-{sender}", start))
    table: List[List[float]] = []
    for _ in range(turns):
        row = []
        for sender in range(senders):
            began = time.perf_counter()
            tracker = await store.retrieve(f"shopper-{sender}")
            assert tracker is not None
            for event in turn_events():
                tracker.update(event)
            await store.save(tracker)
            row.append(time.perf_counter() - began)
        table.append(row)
    return table


def measure(rounds: int, senders: int, turns: int) -> Dict[str, Dict[str, float]]:
    per_turn: Dict[str, List[List[float]]] = {name: [[] for _ in range(turns)] for name in STORES}
    for _ in range(rounds):
        for name, make in STORES.items():
            with tempfile.TemporaryDirectory(prefix="bench-store-") as scratch:
                table = asyncio.run(conversations(make(Path(scratch) / "tracker.db"), senders, turns))
            for number, row in enumerate(table):
                per_turn[name][number] += row
    return {name: {"turn_2_ms": round(1000 * statistics.median(rows[1]), 2),
                   f"turn_{turns}_ms": round(1000 * statistics.median(rows[-1]), 2),
                   "all_turns_ms": round(1000 * statistics.median([t for row in rows for t in row]), 2)}
            for name, rows in per_turn.items()}


def markdown(result: Dict[str, Dict[str, float]], rounds: int, senders: int, turns: int) -> str:
    base = result["rasa"]["all_turns_ms"]
    lines = ["# The embedded tracker store alone", "",
             f"`python -m bench.perf.stores`: {senders} conversations of {turns} turns (read the session, add six "
             f"events, save), the stores in alternation over {rounds} rounds on fresh SQLite files; medians of "
             "wall time per turn, this process only.", "",
             f"| store | turn 2 ms | turn {turns} ms | all turns ms | vs Rasa's |", "| --- | --- | --- | --- | --- |"]
    for name, figures in result.items():
        lines.append(f"| {name} | {figures['turn_2_ms']} | {figures[f'turn_{turns}_ms']} | "
                     f"{figures['all_turns_ms']} | {figures['all_turns_ms'] / base:.2f}× |")
    return "\n".join(lines) + "\n"


def main(args: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="The embedded tracker store's cost per turn.")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--out", type=Path, default=REPORTS)
    options = parser.parse_args(args)
    result = measure(options.rounds, options.senders, options.turns)
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "store.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    text = markdown(result, options.rounds, options.senders, options.turns)
    (options.out / "store.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

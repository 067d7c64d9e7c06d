"""Two scenarios the load steps cannot show.

* **Long conversation**: one shopper, many turns, a new session every few
  turns, sent one at a time at a low rate. Whether a turn costs more as the
  conversation grows (Rasa's tracker store reloads and the policies
  featurize the history on every message) shows as the last turn against
  the second (the first one pays for the session start). A session is
  started by the message ``/session_start``: Rasa parses it as the
  session_start intent without NLU, and RulePolicy's default rule runs
  ``action_session_start`` (Kefu's own, in actions/dialogue.py), exactly as
  after an idle timeout. The tracker database is read afterwards to check
  that the sessions really started.
* **Burst**: the same shopper sends two messages at the same instant (after
  a first one), as people do who type the question and the order number in
  two messages. Rasa's lock store serializes a conversation, so the second
  reply waits for the first; both must get a reply, and the tracker must
  hold each message followed by its replies, never two messages interleaved.
"""
from __future__ import annotations

import asyncio
import sqlite3
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

import aiohttp

from bench.perf.bots import Running
from bench.perf.load import percentile, send
from bench.perf.meter import cpu

SESSION_START = "/session_start"
#: between two turns of the long conversation: one shopper, not a load test
LONG_PAUSE_S = 0.3


def tracker_events(running: Running, sender: str) -> List[Tuple[str, str]]:
    """(type, name or text) of a conversation's events as stored, in order."""
    with sqlite3.connect(running.tracker_db) as db:
        rows = db.execute("SELECT type_name, COALESCE(action_name, intent_name, '') FROM events "
                          "WHERE sender_id = ? ORDER BY id", (running.conversation_id(sender),)).fetchall()
    return [(str(kind), str(name)) for kind, name in rows]


@dataclass
class LongConversation:
    """Per repeat, each turn's latency and CPU (ms), and the sessions found."""

    turns: int
    session_every: int
    latency_ms: List[List[float]] = field(default_factory=list)
    cpu_ms: List[List[float]] = field(default_factory=list)
    outcomes: Dict[str, int] = field(default_factory=dict)
    sessions_expected: int = 0
    sessions_found: List[int] = field(default_factory=list)

    def median(self, series: List[List[float]], turn: int) -> float:
        """The median over the repeats of a 1-based turn."""
        return round(statistics.median(run[turn - 1] for run in series), 1)

    def ratio(self, series: List[List[float]], last: int, first: int) -> Optional[float]:
        low = self.median(series, first)
        return round(self.median(series, last) / low, 2) if low else None

    def cycle_ratio(self, series: List[List[float]], cycle: int) -> Optional[float]:
        """The last scripted cycle's mean over the first's: the same messages,
        so unlike last turn / turn 2 it compares like with like."""
        first = statistics.mean(self.median(series, t) for t in range(1, cycle + 1))
        last = statistics.mean(self.median(series, t) for t in range(self.turns - cycle + 1, self.turns + 1))
        return round(last / first, 2) if first else None

    def as_json(self, cycle: int) -> Dict[str, object]:
        return {
            "turns": self.turns, "session_every": self.session_every, "repeats": len(self.latency_ms),
            "outcomes": self.outcomes, "sessions_expected": self.sessions_expected,
            "sessions_found": self.sessions_found,
            "median_latency_ms": [self.median(self.latency_ms, t) for t in range(1, self.turns + 1)],
            "median_cpu_ms": [self.median(self.cpu_ms, t) for t in range(1, self.turns + 1)],
            "latency_last_over_turn2": self.ratio(self.latency_ms, self.turns, 2),
            "cpu_last_over_turn2": self.ratio(self.cpu_ms, self.turns, 2),
            "latency_last_cycle_over_first": self.cycle_ratio(self.latency_ms, cycle),
            "cpu_last_cycle_over_first": self.cycle_ratio(self.cpu_ms, cycle),
            "latency_ms": self.latency_ms, "cpu_ms": self.cpu_ms,
        }


async def _measured_turn(client: aiohttp.ClientSession, running: Running, sender: str, text: str
                         ) -> Tuple[str, float, float]:
    """Outcome, latency and CPU (ms) of one turn; the CPU is read after a
    pause, so work the bot does after replying counts for the turn."""
    pids = running.pids()
    before = sum(cpu(pids).values())
    started = time.perf_counter()
    outcome, _ = await send(client, running.url, sender, text, running.bot.failure_texts)
    latency = time.perf_counter() - started
    await asyncio.sleep(LONG_PAUSE_S)
    return outcome, latency * 1000, (sum(cpu(pids).values()) - before) * 1000


async def long_conversation(client: aiohttp.ClientSession, running: Running, turns: int, session_every: int,
                            repeats: int, tag: str) -> LongConversation:
    """The script over and over, ``turns`` turns, a new session every
    ``session_every`` turns (the session start itself is not measured)."""
    script = running.bot.script.turns
    result = LongConversation(turns, session_every, sessions_expected=1 + (turns - 1) // session_every)
    for repeat in range(repeats):
        sender = f"{tag}-{repeat}"
        latencies: List[float] = []
        cpus: List[float] = []
        for number in range(turns):
            if number and number % session_every == 0:
                await send(client, running.url, sender, SESSION_START, ())
            outcome, latency, used = await _measured_turn(client, running, sender, script[number % len(script)])
            result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
            latencies.append(round(latency, 1))
            cpus.append(round(used, 1))
        result.latency_ms.append(latencies)
        result.cpu_ms.append(cpus)
        result.sessions_found.append(sum(1 for kind, _ in tracker_events(running, sender)
                                         if kind == "session_started"))
    return result


def interleaved_properly(events: List[Tuple[str, str]], messages: int) -> bool:
    """Every one of ``messages`` user messages stored, each followed by at
    least one bot reply before the next user message."""
    said = [kind for kind, _ in events if kind in ("user", "bot")]
    pairs = zip(said, said[1:] + ["user"], strict=True)
    return said.count("user") == messages and all(not (a == b == "user") for a, b in pairs)


@dataclass(frozen=True)
class Burst:
    """One pair of simultaneous messages: the outcomes, the sooner and the
    later reply's latency (ms), and whether the tracker kept them apart."""

    outcomes: Tuple[str, str]
    sooner_ms: float
    later_ms: float
    tracker_in_order: bool


def burst_summary(rows: List[Burst]) -> Dict[str, object]:
    sooner, later = [r.sooner_ms for r in rows], [r.later_ms for r in rows]
    return {
        "repeats": len(rows),
        "both_replied": sum(1 for r in rows if r.outcomes == ("ok", "ok")),
        "tracker_in_order": sum(1 for r in rows if r.tracker_in_order),
        "sooner_p50_ms": percentile(sooner, 0.5), "sooner_max_ms": max(sooner, default=None),
        "later_p50_ms": percentile(later, 0.5), "later_max_ms": max(later, default=None),
        "rows": [asdict(r) for r in rows],
    }


async def burst(client: aiohttp.ClientSession, running: Running, repeats: int, tag: str) -> List[Burst]:
    """Turn 1, then turns 2 and 3 sent together, ``repeats`` times (a new shopper each time)."""
    first, second, third = running.bot.script.turns[:3]
    rows: List[Burst] = []

    async def timed(sender: str, text: str, started: float) -> Tuple[str, float]:
        outcome, _ = await send(client, running.url, sender, text, running.bot.failure_texts)
        return outcome, round((time.perf_counter() - started) * 1000, 1)

    for repeat in range(repeats):
        sender = f"{tag}-{repeat}"
        await send(client, running.url, sender, first, running.bot.failure_texts)
        started = time.perf_counter()
        (one, one_ms), (two, two_ms) = await asyncio.gather(timed(sender, second, started),
                                                            timed(sender, third, started))
        rows.append(Burst((one, two), min(one_ms, two_ms), max(one_ms, two_ms),
                          interleaved_properly(tracker_events(running, sender), 3)))
    return rows

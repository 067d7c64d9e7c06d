"""The open-loop load generator: conversations arrive at a fixed rate whether
or not the bot keeps up.

A closed loop (N users, each waiting for its reply) slows down with the bot
and hides its queueing: it never offers more than the bot can take. Here
conversations start on a Poisson schedule (seeded by the rate, so every bot
gets the same arrivals at the same step); each conversation sends its
scripted turns one after the other, each as soon as the previous reply
arrived, over Rasa's REST webhook. The offered load of a step is the
conversation rate times the turns of a conversation.

A step measures every turn's latency from send to reply, including failures
(a timeout counts as the time waited), and the CPU and RSS of the bot's
processes; the ramp goes up the steps until the bot is past saturation.
"""
from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import aiohttp

from bench.perf.bots import Running, Script
from bench.perf.meter import StepMeter

#: a turn still unanswered after this is a timeout
REQUEST_TIMEOUT_S = 30.0
#: after the arrivals of a step stop, how long open conversations may finish
DRAIN_S = 60.0
#: the ramp stops after a step past either limit
STOP_P99_MS = 5000.0
STOP_ERROR_RATE = 0.05
#: between steps, so that one step's backlog does not land in the next
PAUSE_S = 3.0


@dataclass(frozen=True)
class Turn:
    """One message sent and what came back."""

    conversation: int
    turn: int
    sent: float  # seconds since the step started
    latency: float  # seconds
    outcome: str  # ok, failure (a "please try again"), empty, http-<status>, timeout, error, unfinished
    followed: Optional[bool]  # the scripted flow's check, on the checked turn only


def session() -> aiohttp.ClientSession:
    """One client for a whole bot: no connection limit (an open loop must
    not queue in its own client), a timeout per turn."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                 timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S))


async def send(client: aiohttp.ClientSession, url: str, sender: str, text: str,
               failure_texts: Sequence[str]) -> Tuple[str, List[str]]:
    """POST one message; the outcome and the texts of the replies."""
    try:
        async with client.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}) as response:
            if response.status != 200:
                return f"http-{response.status}", []
            replies = [str(m.get("text") or m.get("image") or "") for m in await response.json()]
    except asyncio.TimeoutError:
        return "timeout", []
    except (aiohttp.ClientError, ValueError):
        return "error", []
    if not replies:
        return "empty", replies
    if any(f in reply for reply in replies for f in failure_texts):
        return "failure", replies
    return "ok", replies


async def converse(client: aiohttp.ClientSession, running: Running, sender: str, conversation: int,
                   origin: float, record: List[Turn]) -> None:
    """The scripted turns, each sent when the previous reply arrived; stops at
    the first failed turn (what follows would make no sense to the bot)."""
    script: Script = running.bot.script
    for number, text in enumerate(script.turns):
        started = time.perf_counter()
        try:
            outcome, replies = await send(client, running.url, sender, text, running.bot.failure_texts)
        except asyncio.CancelledError:
            record.append(Turn(conversation, number, started - origin, time.perf_counter() - started,
                               "unfinished", None))
            raise
        record.append(Turn(conversation, number, started - origin, time.perf_counter() - started, outcome,
                           script.followed(number, replies) if outcome == "ok" else None))
        if outcome != "ok":
            return


def arrivals(conversations_per_s: float, seconds: float, seed: int) -> List[float]:
    """Poisson arrival times in [0, seconds), the same for a given seed."""
    rng, t, times = random.Random(seed), 0.0, []
    while True:
        t += rng.expovariate(conversations_per_s)
        if t >= seconds:
            return times
        times.append(t)


async def offer(client: aiohttp.ClientSession, running: Running, turns_per_s: float, seconds: float,
                tag: str) -> List[Turn]:
    """One step of open-loop load; every turn sent, once the conversations
    that started in the step have finished (or the drain time is up)."""
    schedule = arrivals(turns_per_s / len(running.bot.script.turns), seconds, seed=round(turns_per_s * 1000))
    record: List[Turn] = []
    origin = time.perf_counter()
    tasks = []
    for number, at in enumerate(schedule):
        await asyncio.sleep(max(0.0, origin + at - time.perf_counter()))
        tasks.append(asyncio.create_task(converse(client, running, f"{tag}-{number}", number, origin, record)))
    await asyncio.sleep(max(0.0, origin + seconds - time.perf_counter()))
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=DRAIN_S)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    return record


def percentile(values: Sequence[float], p: float) -> Optional[float]:
    """Nearest-rank percentile (no interpolation between two turns)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _ms(seconds: Optional[float]) -> Optional[float]:
    return None if seconds is None else round(seconds * 1000, 1)


@dataclass
class Step:
    """A step's row: offered and achieved rates, latency percentiles over
    every turn sent, errors, cost. Achieved counts the good replies that
    arrived within the step's window."""

    offered_turns_per_s: float
    seconds: float
    conversations: int
    turns_sent: int
    replies: int
    achieved_replies_per_s: float
    p50_ms: Optional[float]
    p95_ms: Optional[float]
    p99_ms: Optional[float]
    max_ms: Optional[float]
    error_rate: float
    outcomes: Dict[str, int]
    flow_followed: Optional[float]  # share of checked turns whose reply showed the scripted flow
    cpu_s: Dict[str, float] = field(default_factory=dict)
    rss_max_mb: Dict[str, float] = field(default_factory=dict)
    turns: List[Dict[str, object]] = field(default_factory=list)

    @property
    def cpu_ms_per_reply(self) -> Optional[float]:
        return round(sum(self.cpu_s.values()) * 1000 / self.replies, 1) if self.replies else None

    def cpu_ms_per_reply_of(self, process: str) -> Optional[float]:
        return round(self.cpu_s[process] * 1000 / self.replies, 1) if self.replies and process in self.cpu_s else None

    def past_limits(self) -> bool:
        """Past saturation: the ramp goes no higher."""
        return self.p99_ms is None or self.p99_ms > STOP_P99_MS or self.error_rate > STOP_ERROR_RATE

    def as_json(self) -> Dict[str, object]:
        return {**asdict(self), "cpu_ms_per_reply": self.cpu_ms_per_reply,
                "cpu_ms_per_reply_by_process": {p: self.cpu_ms_per_reply_of(p) for p in self.cpu_s}}


def summarize(record: Sequence[Turn], turns_per_s: float, seconds: float) -> Step:
    latencies = [t.latency for t in record]
    ok = [t for t in record if t.outcome == "ok"]
    checked = [bool(t.followed) for t in ok if t.followed is not None]
    return Step(
        offered_turns_per_s=turns_per_s, seconds=seconds, conversations=len({t.conversation for t in record}),
        turns_sent=len(record), replies=len(ok),
        achieved_replies_per_s=round(sum(1 for t in ok if t.sent + t.latency <= seconds) / seconds, 2),
        p50_ms=_ms(percentile(latencies, 0.50)), p95_ms=_ms(percentile(latencies, 0.95)),
        p99_ms=_ms(percentile(latencies, 0.99)), max_ms=_ms(max(latencies, default=None)),
        error_rate=round(1 - len(ok) / len(record), 4) if record else 0.0,
        outcomes=dict(Counter(t.outcome for t in record)),
        flow_followed=round(sum(checked) / len(checked), 3) if checked else None,
    )


async def step(client: aiohttp.ClientSession, running: Running, turns_per_s: float, seconds: float,
               tag: str) -> Step:
    """One measured step: the load, then what it cost."""
    meter = StepMeter(running.pids())
    record = await offer(client, running, turns_per_s, seconds, tag)
    usage = meter.stop()
    row = summarize(record, turns_per_s, seconds)
    row.cpu_s, row.rss_max_mb = usage.cpu_s, usage.rss_max_mb
    row.turns = [asdict(t) for t in sorted(record, key=lambda t: t.sent)]
    return row


async def warm_up(client: aiohttp.ClientSession, running: Running, tag: str, conversations: int = 2) -> None:
    """A few unmeasured conversations first: the first messages after a start
    pay for lazy loading (TensorFlow's graphs, jieba's dictionary)."""
    for number in range(conversations):
        await converse(client, running, f"{tag}-{number}", number, time.perf_counter(), [])


async def ramp(client: aiohttp.ClientSession, running: Running, rates: Sequence[float], seconds: float,
               tag: str) -> List[Step]:
    """The steps in order, stopping after the first one past the limits."""
    rows: List[Step] = []
    for rate in rates:
        row = await step(client, running, rate, seconds, f"{tag}-r{rate:g}")
        rows.append(row)
        print(f"  {rate:g} turns/s offered: {row.achieved_replies_per_s} replies/s, p50 {row.p50_ms} ms, "
              f"p99 {row.p99_ms} ms, errors {row.error_rate:.1%}, CPU {row.cpu_ms_per_reply} ms/reply", flush=True)
        if row.past_limits():
            break
        await asyncio.sleep(PAUSE_S)
    return rows

"""Live updates: one poller per desk process watches the shared database
(handoffs queued by the action server, shopper messages, assignments made by
any desk process) and pushes what changed to the agents' browsers over
server-sent events. It also runs the overflow to backup groups (pushing
an ``alert``) and the automatic assignment, so a chat waiting for an agent
who comes free is taken without anyone clicking."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, List, Optional, Set, Tuple

from kefu.store.desk import DeskStore

logger = logging.getLogger(__name__)

Event = Dict[str, Any]


class Hub:
    """The browsers listening in this process."""

    def __init__(self) -> None:
        self.listeners: Set[Tuple[int, asyncio.Queue]] = set()

    def subscribe(self, agent_id: int) -> Tuple[int, asyncio.Queue]:
        entry: Tuple[int, asyncio.Queue] = (agent_id, asyncio.Queue(maxsize=1000))
        self.listeners.add(entry)
        return entry

    def unsubscribe(self, entry: Tuple[int, asyncio.Queue]) -> None:
        self.listeners.discard(entry)

    def publish(self, events: List[Event]) -> None:
        for agent_id, queue in list(self.listeners):
            for event in events:
                if visible(event, agent_id):
                    try:
                        queue.put_nowait(event)
                    except asyncio.QueueFull:  # a stuck browser: it reloads on reconnect
                        pass

    def close(self) -> None:
        for _agent_id, queue in list(self.listeners):
            queue.put_nowait(None)


def visible(event: Event, agent_id: int) -> bool:
    """Queue changes go to everyone (ids only); a chat's messages only to
    its agent, or to all while it waits."""
    if event["type"] == "message":
        return event.get("agent_id") in (None, agent_id)
    return True


def diff(before: Dict[int, Tuple[str, Optional[int]]], after: Dict[int, Tuple[str, Optional[int]]]) -> List[Event]:
    events: List[Event] = []
    for handoff_id, (status, agent_id) in sorted(after.items()):
        if handoff_id not in before:
            events.append({"type": "queued", "handoff_id": handoff_id, "status": status, "agent_id": agent_id})
        elif before[handoff_id] != (status, agent_id):
            events.append({"type": "assignment", "handoff_id": handoff_id, "status": status, "agent_id": agent_id,
                           "previous_agent_id": before[handoff_id][1]})
    for handoff_id in sorted(set(before) - set(after)):
        events.append({"type": "closed", "handoff_id": handoff_id, "agent_id": before[handoff_id][1]})
    return events


async def poll(store: DeskStore, hub: Hub, every: float) -> None:
    state, newest = await asyncio.to_thread(store.snapshot)
    while True:
        await asyncio.sleep(every)
        try:
            alerts = await asyncio.to_thread(store.overflow_waiting)
            await asyncio.to_thread(store.assign_waiting)
            after, latest = await asyncio.to_thread(store.snapshot)
            events = diff(state, after)
            events.extend({"type": "alert", "alert_id": a.id, "handoff_id": a.handoff_id} for a in alerts)
            if latest > newest:
                for message_id, handoff_id, sender, agent_id in await asyncio.to_thread(store.messages_after, newest):
                    events.append({"type": "message", "handoff_id": handoff_id, "sender": sender, "agent_id": agent_id})
                    latest = max(latest, message_id)
            state, newest = after, latest
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a database hiccup must not stop the desk
            logger.warning("desk poll failed: %s", type(error).__name__)
            continue
        if events:
            hub.publish(events)


def sse(event: Optional[Event], name: str = "update") -> bytes:
    if event is None:
        return b": keepalive\n\n"
    return f"event: {name}\ndata: {json.dumps(event)}\n\n".encode("utf-8")

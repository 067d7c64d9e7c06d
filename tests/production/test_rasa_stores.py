"""Rasa's Redis tracker store and lock store as endpoints.production.yml
configures them, on the real Redis: what one instance saves another reads,
and two instances never process one conversation at the same time."""
from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlparse

import pytest
from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from kefu.core import secrets
from kefu.core.config import load_settings
from kefu.ops.production import ENDPOINTS, derived_env


@pytest.fixture
def production_env(redis_url, monkeypatch):
    monkeypatch.setenv("KEFU_PROFILE", "production")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
    for key, value in secrets.environment().items():  # what kefu/ops/rasa_server.py gives Rasa
        monkeypatch.setenv(key, value)
    for key, value in derived_env(load_settings(), "http://127.0.0.1:5055/webhook").items():
        monkeypatch.setenv(key, value)


def _endpoint(name: str):
    return read_endpoint_config(str(ENDPOINTS), name)


def test_the_endpoints_file_configures_redis_stores(production_env, redis_url):
    tracker = _endpoint("tracker_store")
    lock = _endpoint("lock_store")
    assert tracker.type == "kefu.dialogue.tracker_store.SessionRedisTrackerStore"
    assert lock.type == "kefu.dialogue.lock_store.PromptRedisLockStore"
    assert tracker.url == urlparse(redis_url).hostname


def test_a_tracker_saved_by_one_instance_is_read_by_another(production_env):
    domain = Domain.empty()
    first = TrackerStore.create(_endpoint("tracker_store"), domain)
    second = TrackerStore.create(_endpoint("tracker_store"), domain)
    assert type(first).__name__ == "SessionRedisTrackerStore"
    sender = f"test-{uuid.uuid4().hex[:10]}"
    tracker = DialogueStateTracker.from_events(sender, [
        ActionExecuted("action_listen"), UserUttered("我的订单到哪了", metadata={"kefu_turn": "00.0"}),
        BotUttered("亲，麻烦提供一下订单号"), ActionExecuted("action_listen"),
    ])

    async def roundtrip():
        await first.save(tracker)
        return await second.retrieve(sender)

    try:
        loaded = asyncio.run(roundtrip())
        users = [e for e in loaded.events if isinstance(e, UserUttered)]
        assert [u.text for u in users] == ["我的订单到哪了"]
        assert users[0].metadata.get("kefu_turn") == "00.0"
    finally:
        first.red.delete(f"{first.key_prefix}{sender}")


def test_two_instances_lock_one_conversation_in_turn(production_env):
    first = LockStore.create(_endpoint("lock_store"))
    second = LockStore.create(_endpoint("lock_store"))
    assert type(first).__name__ == "PromptRedisLockStore"
    sender = f"test-{uuid.uuid4().hex[:10]}"
    order = []

    async def handle(store, name, hold):
        async with store.lock(sender, wait_time_in_seconds=0.05):
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    async def both():
        one = asyncio.create_task(handle(first, "A", 0.5))
        await asyncio.sleep(0.1)
        two = asyncio.create_task(handle(second, "B", 0.0))
        await asyncio.gather(one, two)

    asyncio.run(both())
    assert order == ["A in", "A out", "B in", "B out"]


def _said(tracker):
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]


def _session(text: str):
    return [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
            UserUttered(text), BotUttered(f"re: {text}"), ActionExecuted("action_listen")]


def test_a_turn_reads_and_writes_the_current_session_only(production_env):
    """Older sessions leave the key for the archive once, and come back whole
    in the full tracker (the desk's transcript)."""
    store = TrackerStore.create(_endpoint("tracker_store"), Domain.empty())
    sender = f"test-{uuid.uuid4().hex[:10]}"
    history = _session("第一次") + _session("第二次") + _session("第三次")
    tracker = DialogueStateTracker.from_events(sender, history)

    async def scenario():
        await store.save(tracker)
        current = await store.retrieve(sender)
        current.update(UserUttered("还在吗"))
        await store.save(current)  # the same session again: nothing archived twice
        return await store.retrieve(sender), await store.retrieve_full_tracker(sender)

    try:
        current, full = asyncio.run(scenario())
        assert _said(current) == ["第三次", "还在吗"]
        assert store.red.llen(store.archive_prefix + sender) == 2
        assert _said(full) == ["第一次", "第二次", "第三次", "还在吗"]
        assert 0 < store.red.ttl(store.key_prefix + sender) <= 7776000
        assert 0 < store.red.ttl(store.archive_prefix + sender) <= 7776000
        assert sender in [key.removeprefix(store.key_prefix) for key in asyncio.run(store.keys())]
        assert not any(key.startswith(store.archive_prefix) for key in asyncio.run(store.keys()))
    finally:
        store.red.delete(store.key_prefix + sender, store.archive_prefix + sender)


@pytest.mark.parametrize("store_type", ["in_memory", "production"])
def test_a_waiting_message_gets_the_lock_soon_after_it_is_free(production_env, store_type):
    """Rasa calls lock(sender) with no wait time; Rasa's own stores then look
    again after a whole second. Here the second message is in well before."""
    from rasa.utils.endpoints import EndpointConfig

    from kefu.dialogue.lock_store import PromptInMemoryLockStore

    if store_type == "in_memory":
        first = second = LockStore.create(EndpointConfig(type="kefu.dialogue.lock_store.PromptInMemoryLockStore"))
        assert isinstance(first, PromptInMemoryLockStore)
    else:
        first, second = LockStore.create(_endpoint("lock_store")), LockStore.create(_endpoint("lock_store"))
    sender = f"test-{uuid.uuid4().hex[:10]}"
    freed = {}

    async def hold():
        async with first.lock(sender):
            await asyncio.sleep(0.2)
        freed["at"] = asyncio.get_running_loop().time()

    async def wait():
        await asyncio.sleep(0.05)
        async with second.lock(sender):
            return asyncio.get_running_loop().time()

    async def both():
        _, entered = await asyncio.gather(hold(), wait())
        return entered - freed["at"]

    assert asyncio.run(both()) < 0.5  # Rasa's stores: about 1 s

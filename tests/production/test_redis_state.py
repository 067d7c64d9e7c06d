"""Channel state on Redis: claims and tokens agree across two clients
(two server processes), the SQL records stay in SQL; channel_state() picks
Redis when REDIS_URL is set and SQL otherwise."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

import kefu.state as module
from kefu.core.clock import utcnow
from kefu.state.redis import RedisChannelState, redis_client
from kefu.state.sql import SqlChannelState
from kefu.store.db import make_engine, migrate


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def two(redis_url, engine, prefix):
    """Two processes' states: separate Redis clients, same server."""
    a = RedisChannelState(engine, redis_client(redis_url), prefix=prefix)
    b = RedisChannelState(engine, redis_client(redis_url), prefix=prefix)
    yield a, b
    for key in a.redis.scan_iter(f"{prefix}*"):
        a.redis.delete(key)


def test_a_message_id_is_claimed_once_across_clients(two):
    a, b = two
    assert a.claim_message("wechat", "msg-1") is True
    assert b.claim_message("wechat", "msg-1") is False
    assert a.claim_message("wechat", "msg-1") is False
    assert b.claim_message("email", "msg-1") is True  # per channel
    assert a.is_claimed("wechat", "msg-1") and b.is_claimed("wechat", "msg-1")
    assert not a.is_claimed("wechat", "msg-2")


def test_concurrent_claims_have_exactly_one_winner(two):
    a, b = two
    results = []
    barrier = threading.Barrier(20)

    def claim(state):
        barrier.wait()
        results.append(state.claim_message("wechat", "resent-5s-later"))

    threads = [threading.Thread(target=claim, args=(a if i % 2 else b,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1 and results.count(False) == 19


def test_claims_expire_with_their_ttl(redis_url, engine, prefix):
    state = RedisChannelState(engine, redis_client(redis_url), prefix=prefix, claim_ttl=timedelta(seconds=1))
    assert state.claim_message("telegram", "42")
    assert 0 < state.redis.ttl(f"{prefix}claim:telegram:42") <= 1
    time.sleep(1.2)
    assert state.claim_message("telegram", "42")


def test_a_token_put_by_one_client_is_read_by_the_other_until_its_margin(two):
    a, b = two
    a.put_token("wechat:app", "TOKEN-1", utcnow() + timedelta(hours=2))
    assert b.get_token("wechat:app") == "TOKEN-1"
    b.put_token("wechat:app", "TOKEN-2", utcnow() + timedelta(hours=2))  # b refreshed it
    assert a.get_token("wechat:app") == "TOKEN-2"
    a.put_token("wechat:app", "SOON", utcnow() + timedelta(minutes=3))
    assert b.get_token("wechat:app") is None  # within the 5 minute margin: refresh first
    assert b.get_token("wechat:app", margin=timedelta(0)) == "SOON"
    a.put_token("wechat:app", "OLD", utcnow() - timedelta(seconds=1))
    assert b.get_token("wechat:app", margin=timedelta(0)) is None
    assert b.get_token("never-stored") is None


def test_token_keys_expire_in_redis_by_themselves(two, prefix):
    a, _ = two
    a.put_token("tgcb:x", "payload", utcnow() + timedelta(seconds=30))
    assert 0 < a.redis.pttl(f"{prefix}token:tgcb:x") <= 30_000


def test_threads_and_deliveries_stay_in_sql(two):
    a, b = two
    a.record_delivery("wechat", "openid-1", ok=False, attempts=3, error="timeout")
    assert [d.status for d in b.deliveries("wechat")] == ["failed"]
    assert [d.status for d in SqlChannelState(a.engine).deliveries("wechat")] == ["failed"]  # it is SQL's record


def test_channel_state_picks_redis_when_redis_url_is_set(monkeypatch, tmp_path, redis_url):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'kefu.db'}")
    monkeypatch.delenv("KEFU_PROFILE", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    module.use_channel_state(None)
    try:
        assert type(module.channel_state()) is SqlChannelState  # embedded default
        assert not isinstance(module.channel_state(), RedisChannelState)
        module.use_channel_state(None)
        monkeypatch.setenv("REDIS_URL", redis_url)
        assert isinstance(module.channel_state(), RedisChannelState)
    finally:
        module.use_channel_state(None)

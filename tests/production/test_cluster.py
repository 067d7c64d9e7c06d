"""`make run-prod`'s process table, started for real: 2 Rasa instances and
an action server behind nginx, the agent desk, Redis, PostgreSQL, RabbitMQ.
A conversation through the balancer works, its turns can land on either
instance (one tracker in Redis), the order comes from PostgreSQL, and its
events come through RabbitMQ into the analytics tables (the desk consumes
them as they are published)."""
from __future__ import annotations

import asyncio
import io
import uuid
from typing import List, Optional

import pytest
import requests
from PIL import Image
from sqlalchemy import text

from kefu.core import ids
from kefu.ops.production import Layout, nginx_binary
from kefu.store.db import create_database_if_missing, make_engine
from tests.channels.test_webchat_photo import Page
from tests.conftest import IN_CI, MODEL, free_port, rasa_api
from tests.desk.conftest import wait_for
from tests.support.cluster import Cluster

pytestmark = pytest.mark.e2e


def _database(server_url: str, name: str) -> str:
    url = f"{server_url.rsplit('/', 1)[0]}/{name}"
    create_database_if_missing(url)
    return url


@pytest.fixture(scope="module")
def cluster(redis_url, rabbitmq_url, postgres_server_url, tmp_path_factory):
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train`")
    try:
        nginx_binary()
    except RuntimeError as error:
        if IN_CI:
            pytest.fail(str(error))
        pytest.skip(str(error))
    tag = uuid.uuid4().hex[:8]
    layout = Layout([free_port(), free_port()], [free_port()], free_port(), free_port(), free_port(),
                    tmp_path_factory.mktemp("prod"), api_port=free_port())
    cluster = Cluster.create(layout, {
        "DATABASE_URL": _database(postgres_server_url, "kefu_prod_pytest"), "REDIS_URL": redis_url,
        "RABBITMQ_URL": rabbitmq_url, "KEFU_EVENTS_QUEUE": f"kefu_events_test_{tag}",
        "KEFU_EVENTS_EXCHANGE": f"kefu-events-test-{tag}",
        "KEFU_EVIDENCE_DIR": str(tmp_path_factory.mktemp("evidence")),
    }, seed_orders=200).start(timeout=400)
    yield cluster
    cluster.stop()
    asyncio.run(_drop_queue(rabbitmq_url, cluster.env["KEFU_EVENTS_QUEUE"], cluster.env["KEFU_EVENTS_EXCHANGE"]))


async def _drop_queue(url: str, queue: str, exchange: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)


def _folded(database_url: str, conversation_id: str, turns: int = 4) -> Optional[List[str]]:
    """The intents analytics recorded for the conversation once ``turns`` turns are in."""
    key = ids.conversation_key(conversation_id)
    with make_engine(database_url).connect() as db:
        intents = db.execute(text("select intent from analytics_turns where conversation_key = :k order by event_time"),
                             {"k": key}).scalars().all()
    return list(intents) if len(intents) >= turns else None


def say(url: str, sender: str, message: str) -> str:
    reply = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=90)
    assert reply.status_code == 200, reply.text
    return "\n".join(m.get("text", "") for m in reply.json())


def test_two_rasa_instances_answer_behind_the_balancer(cluster):
    layout = cluster.layout
    for port in layout.rasa_ports:
        assert requests.get(f"http://127.0.0.1:{port}/webhooks/rest/", timeout=10).status_code == 200
    assert requests.get(f"{layout.url}/webhooks/rest/", timeout=10).status_code == 200
    assert requests.get(f"http://127.0.0.1:{layout.desk_port}/healthz", timeout=10).status_code == 200
    assert ("rasa1:" in (layout.run_dir / "Procfile").read_text()
            and "balancer:" in (layout.run_dir / "Procfile").read_text())


def test_a_conversation_through_the_balancer_and_across_instances(cluster, redis_url):
    import redis

    layout = cluster.layout
    sender = f"prod-{uuid.uuid4().hex[:10]}"
    first, second = (f"http://127.0.0.1:{p}" for p in layout.rasa_ports)
    assert say(layout.url, sender, "你好")
    assert "订单号" in say(first, sender, "我的订单到哪了")  # instance 1
    assert "后4位" in say(second, sender, "2611010000000001")  # instance 2 continues the same tracker
    assert "运输中" in say(layout.url, sender, "5678")  # the order, from PostgreSQL
    client = redis.Redis.from_url(redis_url)
    keys = [k.decode() for k in client.scan_iter(f"kefu*{sender}")]
    assert keys, "the tracker is in Redis"
    tracker = rasa_api().get(f"{layout.api_url}/conversations/rest:{sender}/tracker", timeout=30).json()
    users = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert users == ["你好", "我的订单到哪了", "2611010000000001", "5678"]
    # Rasa publishes every event to RabbitMQ and the desk folds them as they come: the conversation is in
    # the analytics tables (the figures, the shoppers' service records) without a separate consumer
    folded = wait_for(lambda: _folded(cluster.env["DATABASE_URL"], f"rest:{sender}"), timeout=60)
    assert len(folded) == 4 and folded[:2] == ["greet", "check_order_status"], folded
    client.delete(*keys)


def test_the_service_record_through_the_balancer(cluster):
    """服务记录 in production: the proof in Redis, 张三's requests from
    PostgreSQL, his conversations from RabbitMQ through the desk; the
    widget's record route is published (a request without a session is 401,
    not 404)."""
    layout = cluster.layout
    sender = f"prod-record-{uuid.uuid4().hex[:8]}"
    assert "订单号" in say(layout.url, sender, "服务记录")
    assert "后4位" in say(layout.url, sender, "2611010000000003")
    shown = say(layout.url, sender, "5678")
    assert shown.startswith("您的服务记录") and "AS00000001" in shown, shown
    wait_for(lambda: _folded(cluster.env["DATABASE_URL"], f"rest:{sender}", turns=3), timeout=60)
    again = say(layout.url, sender, "服务记录")  # proved in this session: at once, now with this conversation
    assert again.startswith("您的服务记录") and "最近的咨询" in again, again
    assert requests.get(f"{layout.url}/webhooks/webchat/record", timeout=10).status_code == 401


def test_a_widget_photo_and_record_through_the_balancer(cluster):
    """The widget's HTTP calls reach Rasa through nginx: a photo bigger than
    nginx's 2 MB default is taken and kept, the record answers the session;
    the bot's answer to the photo reaches the page's socket, whichever
    instance took the upload (socket.io rooms shared through Redis)."""
    page = Page(cluster.layout.url)
    try:
        out = io.BytesIO()
        Image.effect_noise((1400, 1000), 120).convert("RGB").save(out, "PNG")  # noise: ~3 MB, not compressible
        photo = out.getvalue()
        assert len(photo) > 2_000_000
        uploaded = page.upload(photo)
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()["ok"] is True
        assert page.answer(timeout=90)  # 照片收到 / outside a form: said on the socket
        record = requests.get(f"{cluster.layout.url}/webhooks/webchat/record",
                              headers={"X-Kefu-Session": page.token}, timeout=30)
        assert record.status_code == 200 and record.json()["proven"] is False
    finally:
        page.close()


def test_the_balancer_publishes_only_what_shoppers_and_platforms_call(cluster):
    """Rasa's API and anything else is not found from outside; the desk's
    internal listener reaches the API, and only with a JWT; the action
    balancer refuses a call without the secret."""
    layout = cluster.layout
    for path in ("/conversations/rest:x/tracker", "/status", "/model/parse", "/domain", "/", "/version"):
        assert requests.get(f"{layout.url}{path}", timeout=10).status_code == 404, path
    assert requests.post(f"{layout.url}/model/train", json={}, timeout=10).status_code == 404
    assert requests.get(f"{layout.url}/webchat/widget.js", timeout=10).status_code == 200
    assert requests.get(f"{layout.api_url}/conversations/rest:x/tracker", timeout=10).status_code == 401
    assert rasa_api().get(f"{layout.api_url}/conversations/rest:x/tracker", timeout=10).status_code == 200
    forged = requests.post(f"http://127.0.0.1:{layout.action_port}/webhook",
                           json={"next_action": "action_list_my_orders", "sender_id": "telegram:10001",
                                 "tracker": {"sender_id": "telegram:10001", "slots": {}}}, timeout=10)
    assert forged.status_code == 403


def test_a_dead_instance_is_skipped_by_the_balancer(cluster):
    layout = cluster.layout
    cluster.kill("rasa2")  # the module's last test: the fixture stops the rest
    sender = f"prod-{uuid.uuid4().hex[:10]}"
    for message in ("你好", "我的订单到哪了", "谢谢"):
        assert say(layout.url, sender, message)

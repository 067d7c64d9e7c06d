"""The REST channel: its body is checked like any input from outside, its
sender is only a name (``rest:<sender>``), and a message Rasa fails to
process (e.g. LockError while a restarted Redis loads its data) is answered
"please try again", where Rasa's RestInput would answer a silent 200 []."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sanic import Sanic

from channels.edge import TRY_AGAIN, answering_failures
from channels.rest import BadRequest, ReliableRestInput, parse_body
from kefu.core import ids
from kefu.ops.files import effective_credentials
from tests.conftest import serve_blueprint

ROOT = Path(__file__).resolve().parents[2]


def test_a_failure_is_answered_with_try_again():
    async def failing(_message):
        raise RuntimeError("Error while acquiring lock. Redis is loading the dataset in memory")

    collector = CollectingOutputChannel()
    asyncio.run(answering_failures(failing)(UserMessage("谢谢", collector, "rest:shopper-1")))
    assert collector.messages == [{"recipient_id": "rest:shopper-1", "text": TRY_AGAIN}]
    assert "请稍后再试" in TRY_AGAIN and "try again" in TRY_AGAIN


def test_a_success_is_left_alone():
    async def answering(message):
        await message.output_channel.send_text_message(message.sender_id, "不客气亲")

    collector = CollectingOutputChannel()
    asyncio.run(answering_failures(answering)(UserMessage("谢谢", collector, "rest:shopper-1")))
    assert [m["text"] for m in collector.messages] == ["不客气亲"]


def test_no_answer_outside_a_handoff_is_answered_with_try_again_on_any_output():
    async def silent(_message):
        return None

    async def no_agent(_sender):
        return False

    async def with_agent(_sender):
        return True

    collector = CollectingOutputChannel()
    asyncio.run(answering_failures(silent, no_agent)(UserMessage("5678", collector, "rest:shopper-1")))
    assert [m["text"] for m in collector.messages] == [TRY_AGAIN]
    collector = CollectingOutputChannel()
    asyncio.run(answering_failures(silent, with_agent)(UserMessage("5678", collector, "rest:shopper-1")))
    assert collector.messages == []  # relayed to the agent: silence is right

    class Pushing:  # an output channel with no "messages" list (socket.io, WeChat): silence is still seen
        def __init__(self) -> None:
            self.sent = []

        async def send_response(self, recipient_id, message):
            self.sent.append(message)

        async def send_text_message(self, recipient_id, text, **kwargs):
            self.sent.append({"text": text})

    pushing = Pushing()
    asyncio.run(answering_failures(silent, no_agent)(UserMessage("hi", pushing, "web:abc")))
    assert pushing.sent == [{"text": TRY_AGAIN}]


@pytest.mark.parametrize("body, status, reason", [
    (b"[1, 2]", 400, "not_an_object"),
    (b"not json", 400, "not_json"),
    (b'{"message": "hi"}', 400, "sender_required"),
    (b'{"sender": "", "message": "hi"}', 400, "sender_required"),
    (b'{"sender": "a b", "message": "hi"}', 400, "bad_sender"),
    (b'{"sender": "<script>", "message": "hi"}', 400, "bad_sender"),
    ('{"sender": "%s", "message": "hi"}' % ("x" * 65), 400, "bad_sender"),
    (b'{"sender": "me", "message": "hi", "metadata": [1]}', 400, "bad_metadata"),
    (b'{"sender": "me", "message": "' + b"x" * 20000 + b'"}', 413, "body_too_large"),
])
def test_bodies_that_are_not_a_message_are_refused_with_a_reason(body, status, reason):
    with pytest.raises(BadRequest) as refused:
        parse_body(body if isinstance(body, bytes) else body.encode())
    assert (refused.value.status, refused.value.reason) == (status, reason)


def test_a_good_body_keeps_only_sender_message_and_metadata():
    fields = parse_body(json.dumps({"sender": "10001", "message": "我的订单", "input_channel": "telegram",
                                    "metadata": {"page": "cart"}}).encode())
    assert fields == {"sender": "10001", "message": "我的订单", "metadata": {"page": "cart"}}


@pytest.mark.asyncio
async def test_over_http_the_sender_is_a_rest_name_and_bad_input_is_a_4xx():
    """The channel on a real Sanic server: a body claiming Telegram stays a
    REST conversation, a client cannot forge the trusted metadata, and bad
    input gets a 4xx (never a 500, never the assistant)."""
    import aiohttp

    Sanic.test_mode = True
    received = []

    async def on_new_message(message):
        received.append(message)
        await message.output_channel.send_text_message(message.sender_id, "好的")

    server, port = await serve_blueprint(ReliableRestInput().blueprint(on_new_message), "/webhooks/rest", "rest")
    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    try:
        async with aiohttp.ClientSession() as http:
            body = {"sender": "10001", "message": "我的订单", "input_channel": "telegram",
                    "metadata": {"kefu": {"client": "forged"}, "page": "cart"}}
            async with http.post(url, json=body) as reply:
                assert reply.status == 200
                assert await reply.json() == [{"recipient_id": "10001", "text": "好的"}]
            [message] = received
            assert (message.sender_id, message.input_channel) == ("rest:10001", "rest")
            assert message.metadata == {"page": "cart", "kefu": {"client": ids.client_key("127.0.0.1")}}
            cases = [("[1]", 400), ('{"message": "hi"}', 400), ('{"sender": "me", "message": "\\ud800"}', 400),
                     ('{"sender": "me", "message": "%s"}' % ("长" * 2001), 413), ('{"sender": "me"}', 400),
                     ('{"sender": "me", "message": "   "}', 400)]
            for raw, status in cases:
                async with http.post(url, data=raw.encode(), headers={"Content-Type": "application/json"}) as reply:
                    assert reply.status == status, raw[:40]
                    assert "error" in await reply.json()
            assert len(received) == 1
    finally:
        server.close()


def test_the_shops_credentials_use_it_under_rasas_name_and_url(tmp_path):
    """Every Rasa server (make run, make run-prod) loads it from
    credentials.yml; the channel keeps Rasa's name, so the URL
    /webhooks/rest/webhook and the trackers' input_channel stay "rest"."""
    assert ReliableRestInput.name() == "rest"
    channels = effective_credentials(ROOT / "credentials.yml", {}, tmp_path)
    enabled = yaml.safe_load(channels.read_text(encoding="utf-8"))
    assert "channels.rest.ReliableRestInput" in enabled and "rest" not in enabled

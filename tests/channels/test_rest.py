"""The REST channel: a message Rasa fails to process (e.g. LockError
while a restarted Redis loads its data) is answered "please try again",
where Rasa's RestInput would answer a silent 200 []."""
from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from channels.rest import TRY_AGAIN, ReliableRestInput, answering_failures
from kefu.launcher import effective_credentials

ROOT = Path(__file__).resolve().parents[2]


def test_a_failure_is_answered_with_try_again():
    async def failing(_message):
        raise RuntimeError("Error while acquiring lock. Redis is loading the dataset in memory")

    collector = CollectingOutputChannel()
    asyncio.run(answering_failures(failing)(UserMessage("谢谢", collector, "shopper-1")))
    assert collector.messages == [{"recipient_id": "shopper-1", "text": TRY_AGAIN}]
    assert "请稍后再试" in TRY_AGAIN and "try again" in TRY_AGAIN


def test_a_success_is_left_alone():
    async def answering(message):
        await message.output_channel.send_text_message(message.sender_id, "不客气亲")

    collector = CollectingOutputChannel()
    asyncio.run(answering_failures(answering)(UserMessage("谢谢", collector, "shopper-1")))
    assert [m["text"] for m in collector.messages] == ["不客气亲"]


def test_no_answer_outside_a_handoff_is_answered_with_try_again():
    async def silent(_message):
        return None

    async def no_agent(_sender):
        return False

    async def with_agent(_sender):
        return True

    collector = CollectingOutputChannel()
    asyncio.run(answering_failures(silent, no_agent)(UserMessage("5678", collector, "shopper-1")))
    assert [m["text"] for m in collector.messages] == [TRY_AGAIN]
    collector = CollectingOutputChannel()
    asyncio.run(answering_failures(silent, with_agent)(UserMessage("5678", collector, "shopper-1")))
    assert collector.messages == []  # relayed to the agent: silence is right


def test_the_shops_credentials_use_it_under_rasas_name_and_url(tmp_path):
    """Every Rasa server (make run, make run-prod) loads it from
    credentials.yml; the channel keeps Rasa's name, so the URL
    /webhooks/rest/webhook and the trackers' input_channel stay "rest"."""
    assert ReliableRestInput.name() == "rest"
    channels = effective_credentials(ROOT / "credentials.yml", {}, tmp_path)
    enabled = yaml.safe_load(channels.read_text(encoding="utf-8"))
    assert "channels.rest.ReliableRestInput" in enabled and "rest" not in enabled

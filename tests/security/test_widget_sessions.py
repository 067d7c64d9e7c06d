"""Attack 7: web widget sessions could be joined by anyone who knew the
session id, a proven order stayed proven for that id across sessions, and
session ids appeared in logs. Over socket.io against the running Kefu."""
from __future__ import annotations

import asyncio
from typing import Any, List

import pytest
import socketio

from channels.webchat import session_id_for
from tests.conftest import rasa_api
from tests.security.conftest import PROOF_TTL_SECONDS, SHIPPED

pytestmark = pytest.mark.e2e


class Page:
    """A widget page as a socket.io client."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.client = socketio.AsyncClient()
        self.bot: asyncio.Queue = asyncio.Queue()
        self.confirmed: asyncio.Queue = asyncio.Queue()
        self.client.on("bot_uttered", self.bot.put_nowait)
        self.client.on("session_confirm", self.confirmed.put_nowait)
        self.token = ""

    async def open(self, token: Any = None) -> str:
        await self.client.connect(self.base, transports=["polling"])
        await self.client.emit("session_request", {"session_token": token})
        self.token = await asyncio.wait_for(self.confirmed.get(), 10)
        return self.token

    @property
    def conversation(self) -> str:
        return f"web:{session_id_for(self.token)}"

    async def say(self, text: str, **payload: Any) -> str:
        await self.client.emit("user_uttered", {"message": text, "metadata": {"lang": "zh"}, **payload})
        return await self.heard()

    async def heard(self, quiet: float = 1.5, first: float = 60) -> str:
        texts: List[str] = [str((await asyncio.wait_for(self.bot.get(), first)).get("text", ""))]
        while True:
            try:
                texts.append(str((await asyncio.wait_for(self.bot.get(), quiet)).get("text", "")))
            except asyncio.TimeoutError:
                return "\n".join(texts)

    async def close(self) -> None:
        # abort: a polling client would otherwise wait out its pending long-poll
        await self.client.eio.disconnect(abort=True)


@pytest.mark.asyncio
async def test_knowing_a_session_id_joins_nothing_and_a_proof_expires(outsider):
    shopper, intruder = Page(outsider.base), Page(outsider.base)
    try:
        token = await shopper.open()
        assert "后4位" in await shopper.say(f"查订单{SHIPPED}")
        assert SHIPPED in await shopper.say("5678")
        session_id = session_id_for(token)

        # the intruder names the shopper's session id (from a log, a screenshot, a referer): a new session
        await intruder.open(session_id)
        assert session_id_for(intruder.token) != session_id
        assert "后4位" in await intruder.say(f"查订单{SHIPPED}", session_id=session_id)  # the payload's id is ignored
        intruder_conversation = rasa_api().get(f"{outsider.base}/conversations/{intruder.conversation}/tracker",
                                               timeout=10).json()
        assert intruder_conversation["slots"].get("verified_order") is None

        # a push to the shopper's conversation reaches the shopper, not the intruder
        pushed = rasa_api().post(f"{outsider.base}/conversations/{shopper.conversation}/execute",
                                 params={"output_channel": "latest"}, json={"name": "utter_anything_else"}, timeout=30)
        assert pushed.status_code == 200
        assert "还有什么" in await shopper.heard()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(intruder.bot.get(), 2)

        # the proof lasts PROOF_TTL_SECONDS here: then the digits are asked again
        await asyncio.sleep(PROOF_TTL_SECONDS + 1)
        assert "后4位" in await shopper.say(f"订单{SHIPPED}到哪了")
    finally:
        await shopper.close()
        await intruder.close()
    logs = outsider.logs()
    assert token not in logs and session_id not in logs


@pytest.mark.asyncio
async def test_a_message_before_a_session_is_refused(outsider):
    page = Page(outsider.base)
    try:
        await page.client.connect(outsider.base, transports=["polling"])
        await page.client.emit("user_uttered", {"message": "我的订单", "session_id": "0" * 32})
        notice = await asyncio.wait_for(page.bot.get(), 10)
        assert "刷新" in notice["text"] and notice.get("notice")
    finally:
        await page.close()

"""The REST channel: Rasa's own, except that a message Rasa fails to
process is answered with "please try again".

Rasa's ``RestInput`` logs an exception raised while handling a message and
returns ``200 []``: the shopper sees no answer and cannot tell that the
message was not handled (a silent loss). That happens for real, e.g. while
a restarted Redis behind the lock store is still loading its data
(``LockError``). The same ``[]`` comes back when Rasa predicted nothing
(after its circuit breaker tripped on an action that kept failing, seen
with PostgreSQL down). Only during a human handoff is no answer the right
answer. Here a failure says, in both languages, that we are busy and to try
again. Same name (``rest``), same URL (``/webhooks/rest/webhook``), same
request and response format; ``credentials.yml`` names it in place of
Rasa's ``rest``, and the web widget uses the same guard.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint

logger = logging.getLogger(__name__)

TRY_AGAIN = "抱歉亲，系统有点忙，请稍后再试一次。Sorry, we are busy right now, please try again in a moment."


Handler = Callable[[UserMessage], Awaitable[Any]]


async def _with_agent(sender_id: str) -> bool:
    """Whether the conversation is with a human agent (the bot is silent
    on purpose then: ``action_relay_to_agent`` passes the message on)."""
    from sanic import Sanic

    agent = Sanic.get_app().ctx.agent
    tracker = await agent.tracker_store.retrieve(sender_id)
    return bool(tracker and tracker.get_slot("handoff_active"))


Silence = Callable[[str], Awaitable[bool]]


def answering_failures(on_new_message: Handler, silence_is_fine: Silence = _with_agent) -> Handler:
    """``on_new_message`` that answers "please try again" when it fails, or
    when it produced no answer at all outside a human handoff (e.g. Rasa's
    circuit breaker tripped on an action that kept failing)."""

    async def guarded(message: UserMessage) -> None:
        try:
            await on_new_message(message)
        except Exception:  # noqa: BLE001 - the shopper must hear that it failed
            logger.exception("rest: could not handle a message from %s; asked to try again", message.sender_id)
            await message.output_channel.send_text_message(message.sender_id, TRY_AGAIN)
            return
        if getattr(message.output_channel, "messages", None) == []:
            try:
                fine = await silence_is_fine(message.sender_id)
            except Exception:  # noqa: BLE001
                logger.exception("rest: could not tell why %s got no answer", message.sender_id)
                fine = False
            if not fine:
                logger.warning("rest: no answer for %s outside a handoff; asked to try again", message.sender_id)
                await message.output_channel.send_text_message(message.sender_id, TRY_AGAIN)

    return guarded


class ReliableRestInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        return super().blueprint(answering_failures(on_new_message))

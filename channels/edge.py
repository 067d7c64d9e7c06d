"""What every connector does at the edge, written once.

A connector has verified where a message comes from (a signature, a secret,
a session token, its own mailbox). It then hands the message to Rasa only
through :func:`user_message`, which

* cleans the text (:func:`kefu.core.text.clean`: invalid Unicode refused,
  full-width digits read as digits, length capped);
* names the conversation after the identity the connector decided
  (``kefu.core.ids``): the body of a request never chooses the channel or
  the sender;
* replaces whatever a client put under the trusted metadata key with what
  the connector knows (the keyed client address).

:func:`answering_failures` makes sure a shopper never meets silence: a
message Rasa fails on, or answers with nothing outside a human handoff, is
answered "please try again" on any output channel.
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Coroutine, Dict, Mapping, Optional

from rasa.core.channels.channel import OutputChannel, UserMessage

from kefu.core import ids, responses, text
from kefu.core.ids import Identity

logger = logging.getLogger(__name__)

#: said when Rasa failed on a message (a connector cannot know the shopper's language then)
TRY_AGAIN = responses.both("utter_try_again")

Handler = Callable[[UserMessage], Awaitable[Any]]
Silence = Callable[[str], Awaitable[bool]]


def user_message(identity: Identity, message: Any, output: OutputChannel, *, connector: str,
                 client_address: Optional[str] = None, metadata: Optional[Mapping[str, Any]] = None,
                 message_id: Optional[str] = None, max_chars: int = text.MAX_MESSAGE_CHARS) -> UserMessage:
    """The one way a connector hands a shopper's message to Rasa; raises
    :class:`kefu.core.text.BadText` for text that must not get there."""
    cleaned = text.clean(message, max_chars)
    meta: Dict[str, Any] = {k: v for k, v in (metadata or {}).items() if k != ids.TRUSTED_KEY}
    meta[ids.TRUSTED_KEY] = ids.trusted_metadata(client_address)
    return UserMessage(cleaned, output, identity.conversation_id, input_channel=connector,
                       message_id=message_id, metadata=meta)


class _Counted:
    """An output channel that counts what is sent through it, whatever the
    channel (Rasa sends every bot message through ``send_response``; a
    connector may call a ``send_*`` method itself). Everything else is the
    wrapped channel's."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner
        self.sent = 0

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self.inner, attribute)
        if not attribute.startswith("send_") or not callable(value):
            return value

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.sent += 1
            return await value(*args, **kwargs)

        return counted


async def with_agent(conversation_id: str) -> bool:
    """Whether a human agent has the conversation (the bot is silent on
    purpose then: ``action_relay_to_agent`` passed the message on). The
    desk's queue in the shop database is the truth, seen by every process."""
    import asyncio

    from kefu.state import channel_state
    from kefu.store.desk import DeskStore

    desk = DeskStore(channel_state().engine)
    return await asyncio.to_thread(lambda: desk.active_handoff(conversation_id) is not None)


def answering_failures(
    on_new_message: Handler, silence_is_fine: Silence = with_agent
) -> Callable[[UserMessage], Coroutine[Any, Any, None]]:
    """``on_new_message`` that answers "please try again" when it fails, or
    when it produced no answer at all outside a human handoff (e.g. Rasa's
    circuit breaker tripped on an action that kept failing)."""

    async def guarded(message: UserMessage) -> None:
        counted = _Counted(message.output_channel)
        message.output_channel = counted  # an OutputChannel by delegation
        try:
            await on_new_message(message)
        except Exception:  # the shopper must hear that it failed
            logger.exception("could not handle a message from %s; asked to try again", ids.for_log(message.sender_id))
            await counted.inner.send_text_message(message.sender_id, TRY_AGAIN)
            return
        if counted.sent:
            return
        try:
            fine = await silence_is_fine(message.sender_id)
        except Exception:
            logger.exception("could not tell why %s got no answer", ids.for_log(message.sender_id))
            fine = False
        if not fine:
            logger.warning("no answer for %s outside a handoff; asked to try again", ids.for_log(message.sender_id))
            await counted.inner.send_text_message(message.sender_id, TRY_AGAIN)

    return guarded

"""Sending to a channel with retries: one policy for every connector.

A send that fails (network error, 5xx, rate limit) is retried with
exponential backoff; the final outcome is recorded in the shared
`deliveries` table so that a lost reply is visible, never silent.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Optional, TypeVar

from kefu.state import ChannelState, channel_state

logger = logging.getLogger(__name__)
T = TypeVar("T")


class PermanentSendError(Exception):
    """The channel refused the message for good (bad recipient, message too
    long): retrying would not help."""


async def send_with_retry(
    send: Callable[[], Awaitable[T]],
    *,
    channel: str,
    recipient: str,
    attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 8.0,
    state: Optional[ChannelState] = None,
) -> Optional[T]:
    """Call ``send`` until it succeeds or ``attempts`` are used; returns its
    result, or None after the last failure (recorded, logged, not raised:
    the conversation goes on)."""
    state = state or channel_state()
    error: Optional[BaseException] = None
    attempt = 0
    for attempt in range(1, attempts + 1):
        try:
            result = await send()
        except PermanentSendError as exc:
            error = exc
            break
        except Exception as exc:  # any transport failure is retried
            error = exc
            if attempt < attempts:
                await asyncio.sleep(min(max_delay, base_delay * 2 ** (attempt - 1)))
            continue
        _record(state, channel, recipient, True, attempt, None)
        return result
    logger.warning("sending to %s failed after %d attempt(s): %s", channel, attempt, error)
    _record(state, channel, recipient, False, attempt, repr(error))
    return None


def _record(state: ChannelState, channel: str, recipient: str, ok: bool, attempts: int, error: Optional[str]) -> None:
    try:
        state.record_delivery(channel, recipient, ok, attempts, error)
    except Exception:  # recording must not break sending
        logger.exception("could not record a delivery on %s", channel)

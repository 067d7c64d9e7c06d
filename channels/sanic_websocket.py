"""Sanic 21.12's websockets, made to work on Python 3.11.

Rasa 3.6 pins Sanic 21.12, whose websocket ``recv`` hands a bare coroutine
(``WebsocketFrameAssembler.get``) to ``asyncio.wait``. Python 3.11 refuses
that with a ``TypeError``, so every websocket the widget opened was closed
by the server at its first read, and socket.io fell back to long-polling
(an HTTP request per message, and one held open per page) while the logs
only said "coroutine 'WebsocketFrameAssembler.get' was never awaited".
Sanic 22.9 fixed it by wrapping the coroutine in a task; ``install()`` does
the same to the one method, so ``recv`` behaves as it does on Python 3.10.

The web chat connector installs it when it builds its socket.io server
(channels/webchat.py); installing twice changes nothing.
"""
from __future__ import annotations

import asyncio
from typing import Any, Optional

from sanic.server.websockets.frame import WebsocketFrameAssembler

_ORIGINAL_GET = WebsocketFrameAssembler.get


def _get_as_task(self: WebsocketFrameAssembler, timeout: Optional[float] = None) -> "asyncio.Task[Any]":
    """The next message as a task, which ``asyncio.wait`` accepts and which
    ``recv`` cancels when it is itself cancelled, as it did the coroutine."""
    return asyncio.ensure_future(_ORIGINAL_GET(self, timeout))


def install() -> None:
    WebsocketFrameAssembler.get = _get_as_task  # type: ignore[assignment]

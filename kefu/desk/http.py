"""What every handler of the desk (app and dashboard) needs to speak JSON:
answers, request bodies, blocking store calls off the event loop."""
from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime
from typing import Any, Callable, Dict, TypeVar

from aiohttp import web

T = TypeVar("T")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(type(value).__name__)


def ok(payload: Any, status: int = 200) -> web.Response:
    """``payload`` as JSON (datetimes as ISO text, dataclasses as objects)."""
    return web.json_response(payload, status=status,
                             dumps=lambda v: json.dumps(v, default=_default, ensure_ascii=False))


def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> "asyncio.Future[T]":
    """A blocking (database) call in a worker thread."""
    return asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))


async def json_body(request: web.Request) -> Dict[str, Any]:
    """The request's JSON object; anything else is a 400."""
    try:
        value = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise web.HTTPBadRequest() from None
    if not isinstance(value, dict):
        raise web.HTTPBadRequest()
    return value


def error(status: int, code: str) -> web.Response:
    """The desk's one shape of a refusal: ``{"error": <code>}``."""
    return web.json_response({"error": code}, status=status)

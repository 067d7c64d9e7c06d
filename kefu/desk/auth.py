"""Sessions, CSRF and security headers for the desk.

* The session cookie holds a random token; the database keeps its SHA-256
  (``desk_sessions``), so any desk process can check it and a stolen
  database yields no usable cookie. The cookie is HttpOnly, SameSite=Strict,
  expires with the session (``KEFU_DESK_SESSION_HOURS``, default 8) and is
  Secure when ``KEFU_DESK_SECURE_COOKIE=1``.
* Every ``/api/`` route except login, and every photo under ``/evidence/``,
  needs a valid session (401).
* Every state-changing request (anything but GET/HEAD) must carry
  ``X-Requested-With: XMLHttpRequest`` and, if the browser sends an Origin,
  come from the desk's own origin (403): a cross-site form or fetch cannot.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Awaitable, Callable, Optional
from urllib.parse import urlsplit

from aiohttp import web

from kefu.desk import keys
from kefu.desk.http import error

if TYPE_CHECKING:  # pragma: no cover
    from kefu.store.desk import AgentView

COOKIE = "kefu_desk_session"
CSRF_HEADER = "X-Requested-With"
CSRF_VALUE = "XMLHttpRequest"
PUBLIC_API = {"/api/login"}
#: what only a signed-in agent may reach
PROTECTED = ("/api/", "/evidence/")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin != "null"
    return urlsplit(origin).netloc.lower() == (request.host or "").lower()


@web.middleware
async def security(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(PROTECTED):
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            if request.headers.get(CSRF_HEADER) != CSRF_VALUE or not _same_origin(request):
                return _with_headers(error(403, "csrf"))
        if request.path not in PUBLIC_API:
            agent = await current_agent(request)
            if agent is None:
                return _with_headers(error(401, "login_required"))
            request["agent"] = agent
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = error(exc.status, exc.reason.lower().replace(" ", "_"))
    return _with_headers(response)


def _with_headers(response: web.StreamResponse) -> web.StreamResponse:
    if not response.prepared:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


async def current_agent(request: web.Request) -> Optional[AgentView]:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    return await asyncio.to_thread(request.app[keys.STORE].session_agent, token)


def set_session_cookie(response: web.Response, token: str, hours: float, secure: bool) -> None:
    response.set_cookie(COOKIE, token, max_age=int(hours * 3600), httponly=True, samesite="Strict",
                        secure=secure, path="/")


def clear_session_cookie(response: web.Response) -> None:
    response.del_cookie(COOKIE, path="/")


def session_token(request: web.Request) -> Optional[str]:
    return request.cookies.get(COOKIE)

"""The supervisors' side of routing on the desk: each skill group's line
now, who serves it, and the alerts raised when a wait overflowed to a backup
group (kefu/store/desk/routing.py raises them; the desk's poller pushes an
``alert`` event so an open desk shows them at once).

Supervisors are the agents listed in ``KEFU_DESK_SUPERVISORS``; unset, the
managers who see the dashboard (``KEFU_DESK_MANAGERS``); both unset, every
agent, as for the dashboard.

    GET  /api/routing              the groups' lines and the team's skills and shifts (supervisors)
    GET  /api/alerts               open alerts, newest first (supervisors)
    POST /api/alerts/{id}/ack      the alert is seen (audited)
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Optional

from aiohttp import web

from kefu.core.config import load_settings
from kefu.desk import dashboard, keys
from kefu.desk.http import ok, run

SUPERVISORS: "web.AppKey[frozenset]" = web.AppKey("routing_supervisors")
REGISTERED: "web.AppKey[bool]" = web.AppKey("routing_registered")


def is_supervisor(request: web.Request) -> bool:
    listed = request.app[SUPERVISORS] or request.app.get(dashboard.MANAGERS) or frozenset()
    return not listed or request["agent"].username in listed


def _supervisor(request: web.Request) -> None:
    if not is_supervisor(request):
        raise web.HTTPForbidden()


async def lines(request: web.Request) -> web.Response:
    _supervisor(request)
    store = request.app[keys.STORE]
    groups = await run(store.group_lines)
    team = await run(store.agents)
    return ok({
        "groups": [dataclasses.asdict(g) for g in groups],
        "agents": [{"id": a.id, "display_name": a.display_name, "skills": list(a.skills), "shifts": a.shifts,
                    "on_shift": a.on_shift, "present": a.present, "open_chats": a.open_chats,
                    "max_concurrent": a.max_concurrent} for a in team],
    })


async def alerts(request: web.Request) -> web.Response:
    _supervisor(request)
    return ok({"alerts": [dataclasses.asdict(a) for a in await run(request.app[keys.STORE].open_alerts)]})


async def acknowledge(request: web.Request) -> web.Response:
    _supervisor(request)
    try:
        alert_id = int(request.match_info["alert_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    if not await run(request.app[keys.STORE].acknowledge_alert, alert_id, request["agent"].id):
        raise web.HTTPNotFound()
    return ok({"ok": True})


def register(app: web.Application, supervisors: Optional[Iterable[str]] = None) -> None:
    """Add the routes; ``supervisors`` None: from the settings. A later call
    (tests) only changes who the supervisors are."""
    if supervisors is None:
        supervisors = load_settings().desk.supervisors
    app[SUPERVISORS] = frozenset(m.strip().lower() for m in supervisors if m and m.strip())
    if app.get(REGISTERED):
        return
    app[REGISTERED] = True
    app.router.add_get("/api/routing", lines)
    app.router.add_get("/api/alerts", alerts)
    app.router.add_post("/api/alerts/{alert_id}/ack", acknowledge)

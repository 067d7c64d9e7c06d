"""The supervisors' side of the desk: each skill group's line now, who
serves it, the alerts (a wait that overflowed to a backup group, an
escalated chat, repeated abuse: kefu/store/desk/routing.py and risk.py raise
them; the desk's poller pushes an ``alert`` event so an open desk shows them
at once), and blocking a conversation that keeps abusing agents.

Supervisors are the agents listed in ``KEFU_DESK_SUPERVISORS``; unset, the
managers who see the dashboard (``KEFU_DESK_MANAGERS``); both unset, every
agent, as for the dashboard.

    GET  /api/routing              the groups' lines and the team's skills and shifts (supervisors)
    GET  /api/alerts               open alerts, newest first (supervisors)
    POST /api/alerts/{id}/ack      the alert is seen (audited)
    POST /api/handoffs/{id}/block  {reason}: the conversation gets a notice instead of service (audited)
    POST /api/handoffs/{id}/unblock
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Iterable, Optional

from aiohttp import web

from kefu.core.config import load_settings
from kefu.core.names import BLOCK_ACTION, UNBLOCK_ACTION
from kefu.desk import dashboard, keys
from kefu.desk.http import json_body, ok, run
from kefu.desk.rasa import RasaError
from kefu.store.desk import Outcome

logger = logging.getLogger(__name__)

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


async def block(request: web.Request) -> web.Response:
    """Block the handoff's conversation (any handoff: a supervisor acts on
    what the alerts show, not only on their own chats), close it, and have
    Rasa tell the shopper and keep telling them."""
    _supervisor(request)
    body = await json_body(request)
    outcome = await run(request.app[keys.STORE].block, _handoff_id(request), request["agent"].id,
                        str(body.get("reason") or ""))
    return await _then(request, outcome, BLOCK_ACTION)


async def unblock(request: web.Request) -> web.Response:
    _supervisor(request)
    outcome = await run(request.app[keys.STORE].unblock, _handoff_id(request), request["agent"].id)
    return await _then(request, outcome, UNBLOCK_ACTION)


def _handoff_id(request: web.Request) -> int:
    try:
        return int(request.match_info["handoff_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def _then(request: web.Request, outcome: Outcome, action: str) -> web.Response:
    if not outcome.ok or outcome.handoff is None:
        status = {"not_found": 404, "empty": 400, "not_blocked": 409}.get(outcome.reason or "", 400)
        return web.json_response({"error": outcome.reason}, status=status)
    try:
        await request.app[keys.RASA].execute(outcome.handoff.conversation_id, action)
        notified = True
    except RasaError as error:
        logger.warning("handoff %s: Rasa execute %s failed (%s)", outcome.handoff.id, action, error)
        notified = False  # blocking again (idempotent in the store) tries Rasa again
    return ok({"ok": True, "notified": notified})


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
    app.router.add_post("/api/handoffs/{handoff_id}/block", block)
    app.router.add_post("/api/handoffs/{handoff_id}/unblock", unblock)

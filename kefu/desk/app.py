"""The desk's web app: the page, the JSON API and the live event stream.

Routes (all ``/api/`` routes but login, and the photos under ``/evidence/``,
need a session; POSTs need ``X-Requested-With: XMLHttpRequest``; see
kefu/desk/auth.py and kefu/desk/evidence.py)::

    GET  /                         the desk page (login form when logged out)
    GET  /healthz                  liveness, no session
    POST /api/login                {username, password} -> sets the session cookie
    POST /api/logout
    GET  /api/me
    POST /api/password             {old_password, new_password}: the agent's other sessions end
    POST /api/presence             {online: bool}: accepting chats or paused
    GET  /api/queue                waiting handoffs and the agent's own
    GET  /api/handoffs/{id}        the handoff, its transcript, the shopper's orders and tickets, canned replies,
                                   the conversation's photos with signed, expiring links (kefu/desk/evidence.py)
    POST /api/handoffs/{id}/claim
    POST /api/handoffs/{id}/transfer   {to_agent_id: int | null (back to the queue)}
    GET  /api/handoffs/{id}/suggestions  suggested replies for the shopper's latest message (kefu/desk/assist.py)
    POST /api/handoffs/{id}/reply      {text, assist?: {intent, kind, text}}: what became of the suggestions
    POST /api/handoffs/{id}/resolve
    POST /api/handoffs/{id}/tickets/{ticket_id}/status   {status: open|pending|resolved|closed}: only the
                                   agent holding the chat, only a ticket its panel shows (audited)
    GET  /api/canned?lang=zh|en
    GET  /api/agents
    GET  /api/metrics
    GET  /api/events               server-sent events: queued, assignment, closed, message, alert
    GET  /api/routing, /api/alerts, POST /api/alerts/{id}/ack   the supervisors' view (kefu/desk/routing.py)
    GET  /evidence/{id}/{full|thumb}?expires=..&sig=..
                                   a photo's bytes: needs a session (401) as /api/ does, a valid link
                                   of that photo and variant (403), the photo in the storage (404)
    POST /shop/events              the shop's signed order events (kefu/notify/webhook.py), no session

The desk process also runs the order-news outbox (kefu/notify/dispatcher.py)
and tells waiting shoppers where they stand (kefu/desk/queue_news.py).
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import Counter
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional

from aiohttp import web

from kefu.analytics import answers
from kefu.core import hours, ids
from kefu.core.config import EvidenceOptions, load_settings
from kefu.core.names import HANDBACK_ACTION
from kefu.core.privacy import mask_name, mask_phone
from kefu.desk import assist, auth, dashboard, evidence, keys, queue_news, routing
from kefu.desk.http import json_body, ok, run
from kefu.desk.live import Hub, poll, sse
from kefu.desk.rasa import RasaClient, RasaError
from kefu.desk.settings import DeskSettings, load_desk_settings
from kefu.evidence.access import open_access
from kefu.notify import webhook
from kefu.notify.dispatcher import Dispatcher, policy_from, run_forever
from kefu.risk import words as risk_words
from kefu.store.db import make_engine, migrate
from kefu.store.desk import AgentView, DeskStore, Forbidden, HandoffView, Outcome
from kefu.store.notify import NotifyStore
from kefu.store.shop import ShopStore

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
KEEPALIVE_SECONDS = 15
STATUS = {"not_found": 404, "forbidden": 403, "taken": 409, "closed": 409, "already_yours": 409,
          "empty": 400, "no_agent": 400, "same_agent": 400, "bad_status": 400}


def handoff_json(view: HandoffView) -> Dict[str, Any]:
    return dataclasses.asdict(view)


# -- handlers --------------------------------------------------------------------------------


async def page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "desk.html", headers={"Cache-Control": "no-store"})


async def healthz(request: web.Request) -> web.Response:
    return ok({"ok": True})


async def login(request: web.Request) -> web.Response:
    body = await json_body(request)
    username, password = str(body.get("username") or ""), str(body.get("password") or "")
    settings: DeskSettings = request.app[keys.SETTINGS]
    address = ids.client_address(request.remote, request.headers, settings.trusted_proxies)
    token, agent, outcome = await run(request.app[keys.STORE].login, username, password, settings.session_hours,
                                      address)
    if outcome == "locked":
        return auth.error(429, "locked")
    if token is None or agent is None:  # the store sets both or neither
        return auth.error(401, "bad_credentials")
    logger.info("agent %s logged in", agent.id)
    response = ok({"agent": agent})
    auth.set_session_cookie(response, token, settings.session_hours, settings.secure_cookie)
    return response


async def logout(request: web.Request) -> web.Response:
    await run(request.app[keys.STORE].logout, auth.session_token(request))
    response = ok({"ok": True})
    auth.clear_session_cookie(response)
    return response


async def me(request: web.Request) -> web.Response:
    return ok({"agent": request["agent"], "supervisor": routing.is_supervisor(request)})


async def change_password(request: web.Request) -> web.Response:
    """The agent's own password; their other sessions end."""
    body = await json_body(request)
    try:
        changed = await run(request.app[keys.STORE].change_password, request["agent"].id,
                            str(body.get("old_password") or ""), str(body.get("new_password") or ""),
                            auth.session_token(request))
    except ValueError:
        return auth.error(400, "weak_password")
    return ok({"ok": True}) if changed else auth.error(403, "bad_credentials")


async def presence(request: web.Request) -> web.Response:
    body = await json_body(request)
    agent = request["agent"]
    online = bool(body.get("online"))
    store: DeskStore = request.app[keys.STORE]
    await run(store.set_online, agent.id, online)
    await run(store.audit, agent.id, "online" if online else "pause", f"agent:{agent.id}")
    return ok({"agent": await run(store.agent, agent.id)})


async def queue(request: web.Request) -> web.Response:
    """The agent's queue, and the skill groups' names to show it with."""
    store: DeskStore = request.app[keys.STORE]
    found = await run(store.queue, request["agent"].id)
    policy = await run(lambda: store.routing)
    return ok({**found, "groups": {code: group.label for code, group in policy.groups.items()}})


async def agents(request: web.Request) -> web.Response:
    return ok({"agents": [_agent_public(a) for a in await run(request.app[keys.STORE].agents)]})


async def handoff_detail(request: web.Request) -> web.Response:
    view = await _visible_handoff(request)
    store: DeskStore = request.app[keys.STORE]
    agent_id = request["agent"].id
    await run(store.audit, agent_id, "view_conversation", f"handoff:{view.id}", None)
    transcript, rasa_ok = await _transcript(request.app, view)
    customer = await run(_customer, request.app, view)
    if customer["customer_id"] is not None:
        await run(store.audit, agent_id, "view_customer", f"customer:{customer['customer_id']}", f"handoff:{view.id}")
    canned = await run(store.canned_replies)
    team = await run(store.agents)
    photos = await run(evidence.photos, request.app[keys.EVIDENCE], view.conversation_id)
    abuse = await run(store.abuse_count, view.conversation_id)
    blocked = await run(store.is_blocked, view.conversation_id)
    return ok({
        "handoff": handoff_json(view),
        "transcript": transcript,
        "rasa_ok": rasa_ok,
        "customer": customer,
        "canned": [{"id": c.id, "title": c.title, "text": c.text(view.language)} for c in canned],
        "agents": [_agent_public(a) for a in team if a.id != request["agent"].id],
        "mine": view.agent_id == request["agent"].id and view.status == "assigned",
        "photos": photos,
        "risk": {"abuse_24h": abuse, "blocked": blocked},
    })


async def claim(request: web.Request) -> web.Response:
    view = await _visible_handoff(request)
    outcome = await run(request.app[keys.STORE].claim, view.id, request["agent"].id)
    return _outcome(outcome)


async def transfer(request: web.Request) -> web.Response:
    view = await _visible_handoff(request)
    body = await json_body(request)
    requested: Any = body.get("to_agent_id")  # whatever JSON the browser sent
    try:
        target = int(requested) if requested not in (None, "", "queue") else None
    except (TypeError, ValueError):
        return auth.error(400, "bad_agent")
    outcome = await run(request.app[keys.STORE].transfer, view.id, request["agent"].id, target)
    return _outcome(outcome)


async def reply(request: web.Request) -> web.Response:
    """The agent's reply; with ``assist`` ({intent, kind, text}: the
    suggestions shown for the shopper's message and the one inserted, if
    any), what the agent did with them is recorded for the dashboard. A
    reply to a message the bot could not answer becomes a candidate FAQ."""
    view = await _visible_handoff(request)
    body = await json_body(request)
    text = str(body.get("text") or "")
    outcome = await run(request.app[keys.STORE].reply, view.id, request["agent"].id, text)
    if not outcome.ok:
        return _outcome(outcome)
    notified = await _execute(request.app, view, "action_agent_message")  # the shopper first
    await _record_assist(request, view, text, body.get("assist"))
    await _learn(request, view, text)
    return ok({"ok": True, "notified": notified, "handoff": _done_json(outcome)})


async def resolve(request: web.Request) -> web.Response:
    view = await _visible_handoff(request)
    outcome = await run(request.app[keys.STORE].resolve, view.id, request["agent"].id)
    if not outcome.ok:
        return _outcome(outcome)
    notified = await _execute(request.app, view, HANDBACK_ACTION)
    return ok({"ok": True, "notified": notified, "handoff": _done_json(outcome)})


async def ticket_status(request: web.Request) -> web.Response:
    """The agent holding the chat moves one of the shopper's tickets on;
    the shopper's service record shows the new status at its next refresh."""
    view = await _visible_handoff(request)
    body = await json_body(request)
    outcome = await run(request.app[keys.STORE].set_ticket_status, view.id, request["agent"].id,
                        request.match_info["ticket_id"], str(body.get("status") or ""))
    return _outcome(outcome)


async def suggestions(request: web.Request) -> web.Response:
    """Suggested replies for the shopper's latest message (kefu/desk/assist.py)."""
    view = await _visible_handoff(request)
    try:
        tracker = await request.app[keys.RASA].tracker(view.conversation_id)
    except RasaError as error:
        logger.warning("handoff %s: tracker unavailable for suggestions (%s)", view.id, error)
        return auth.error(503, "rasa_unavailable")
    canned = await run(request.app[keys.STORE].canned_replies)
    found = await run(assist.suggest, tracker, view.customer_id, canned, request.app[keys.SHOP],
                      load_settings().proof_ttl_seconds)
    shown = found.as_json()
    shown["message"] = risk_words.mask(shown.get("message") or "")
    return ok(shown)


async def _record_assist(request: web.Request, view: HandoffView, text: str, shown: Any) -> None:
    if not isinstance(shown, dict):
        return  # no suggestions were shown for this reply
    chosen = shown.get("text") if isinstance(shown.get("text"), str) else None
    intent = shown.get("intent") if isinstance(shown.get("intent"), str) else None
    kind = shown.get("kind") if chosen is not None and isinstance(shown.get("kind"), str) else None
    await run(request.app[keys.STORE].record_assist, view.id, request["agent"].id, intent, kind,
              assist.outcome(text, chosen))


async def _learn(request: web.Request, view: HandoffView, text: str) -> None:
    """An agent answered what the bot could not: the pair is a candidate
    FAQ for the trainers (kefu/analytics/answers.py)."""
    try:
        tracker = await request.app[keys.RASA].tracker(view.conversation_id)
    except RasaError:
        return  # the reply went out; only the lesson is lost
    message = assist.latest_message(tracker.get("events") or [])
    if message is None:
        return
    intent = (message.get("parse_data") or {}).get("intent") or {}
    if answers.unanswered(intent.get("name"), intent.get("confidence")):
        await run(answers.collect, request.app[keys.STORE].engine, view.id, str(message.get("text") or ""), text,
                  view.language or "zh", intent.get("name"))


async def canned(request: web.Request) -> web.Response:
    language = "en" if request.query.get("lang") == "en" else "zh"
    replies = await run(request.app[keys.STORE].canned_replies)
    return ok({"canned": [{"id": c.id, "title": c.title, "text": c.text(language)} for c in replies]})


async def metrics(request: web.Request) -> web.Response:
    return ok(await run(request.app[keys.STORE].metrics))


async def events(request: web.Request) -> web.StreamResponse:
    agent = request["agent"]
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no",
        **{k: v for k, v in auth.SECURITY_HEADERS.items() if k != "Cache-Control"},
    })
    await response.prepare(request)
    hub: Hub = request.app[keys.HUB]
    entry = hub.subscribe(agent.id)
    try:
        await response.write(sse({"type": "hello", "agent_id": agent.id}, "hello"))
        while True:
            try:
                event = await asyncio.wait_for(entry[1].get(), timeout=KEEPALIVE_SECONDS)
            except asyncio.TimeoutError:
                # still logged in? (also marks the agent as present)
                if await auth.current_agent(request) is None:
                    await response.write(sse({"type": "logged_out"}, "logged_out"))
                    break
                await response.write(sse(None))
                continue
            if event is None:  # the server is stopping
                break
            await response.write(sse(event))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.unsubscribe(entry)
    return response


# -- helpers ---------------------------------------------------------------------------------


async def _visible_handoff(request: web.Request) -> HandoffView:
    try:
        handoff_id = int(request.match_info["handoff_id"])
        return await run(request.app[keys.STORE].handoff_for_agent, handoff_id, request["agent"].id)
    except (KeyError, ValueError):
        raise web.HTTPNotFound() from None
    except Forbidden:
        raise web.HTTPForbidden() from None


def _done_json(outcome: Outcome) -> Dict[str, Any]:
    """The handoff of a successful action (the store sets it on every ok Outcome)."""
    if outcome.handoff is None:
        raise TypeError(f"an ok Outcome without its handoff: {outcome!r}")
    return handoff_json(outcome.handoff)


def _outcome(outcome: Outcome) -> web.Response:
    if outcome.ok:
        return ok({"ok": True, "handoff": _done_json(outcome)})
    if outcome.reason is None:
        raise TypeError(f"a refusal without its reason: {outcome!r}")
    return auth.error(STATUS.get(outcome.reason, 400), outcome.reason)


def _agent_public(agent: AgentView) -> Dict[str, Any]:
    return {"id": agent.id, "display_name": agent.display_name, "present": agent.present,
            "online": agent.online, "open_chats": agent.open_chats, "max_concurrent": agent.max_concurrent}


async def _execute(app: web.Application, view: HandoffView, action: str) -> bool:
    try:
        await app[keys.RASA].execute(view.conversation_id, action)
        return True
    except RasaError as error:
        logger.warning("handoff %s: Rasa execute failed (%s)", view.id, error)
        return False


async def _transcript(app: web.Application, view: HandoffView) -> tuple[List[Dict[str, Any]], bool]:
    """The tracker's user/bot turns with the desk's own messages: agent
    replies not yet delivered (``pending``) and system notes. An agent reply
    that reached the tracker shows as the agent's, not the bot's."""
    messages = await run(app[keys.STORE].messages, view.id)
    try:
        turns = await app[keys.RASA].transcript(view.conversation_id)
        rasa_ok = True
    except RasaError as error:
        logger.warning("handoff %s: tracker unavailable (%s)", view.id, error)
        turns, rasa_ok = [], False
    delivered = Counter(m.text for m in messages if m.sender == "agent" and m.delivered)
    for turn in turns:
        if turn["sender"] == "bot" and delivered[turn["text"]] > 0:
            delivered[turn["text"]] -= 1
            turn["sender"] = "agent"
    for m in messages:
        pending = m.sender == "agent" and not m.delivered
        if not rasa_ok or m.sender == "system" or pending:
            turns.append({"sender": m.sender, "text": m.text, "time": m.created_at.timestamp(), "pending": pending})
    for turn in turns:  # abusive words never reach an agent's screen (risk.yml)
        if turn["sender"] == "shopper":
            turn["text"] = risk_words.mask(turn["text"])
    turns.sort(key=lambda t: t.get("time") or 0)
    return turns, rasa_ok


def _customer(app: web.Application, view: HandoffView) -> Dict[str, Any]:
    """The shopper's orders and tickets, for a customer the platform vouched
    for only: ``customer_id`` was set by the action from a WeChat or
    Telegram identity (kefu.core.ids). A web, REST or e-mail sender is never
    looked up by its id, whatever it is called."""
    shop: ShopStore = app[keys.SHOP]
    customer_id = view.customer_id
    orders = []
    if customer_id is not None:
        for o in shop.orders_of_customer(customer_id, limit=5):
            orders.append({
                "id": o.id, "status": o.status, "total_cents": o.total_cents, "created_at": o.created_at,
                "receiver": mask_name(o.receiver_name), "phone": mask_phone(o.receiver_phone),
                "items": [f"{i.name} × {i.quantity}" for i in o.items],
            })
    tickets = [dataclasses.asdict(t) for t in app[keys.STORE].tickets_for(view.conversation_id, customer_id)]
    return {"customer_id": customer_id, "orders": orders, "tickets": tickets}


# -- the app ---------------------------------------------------------------------------------


def _dispatcher(app: web.Application, settings: DeskSettings) -> Dispatcher:
    """The outbox's dispatcher, speaking through the desk's Rasa client."""
    zone = hours.load(str(settings.service_hours_path) if settings.service_hours_path else None).zone
    store = app[keys.NOTIFY]

    async def page_open(conversation_id: str) -> bool:
        return await run(store.page_open, conversation_id)

    return Dispatcher(store, app[keys.RASA], policy_from(settings.notify, zone), page_open)


def create_app(settings: Optional[DeskSettings] = None, run_migrations: bool = True,
               evidence_options: Optional[EvidenceOptions] = None) -> web.Application:
    """The desk; the photo evidence's storage and links as ``evidence_options``
    say, or as the settings (``KEFU_EVIDENCE_*``) do."""
    settings = settings or load_desk_settings()
    evidence_options = evidence_options or load_settings().evidence
    # security first: its headers go on every answer, the evidence's refusals too
    app = web.Application(middlewares=[auth.security], client_max_size=64 * 1024)
    app[keys.SETTINGS] = settings
    app[keys.HUB] = Hub()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        if run_migrations:
            await run(migrate, settings.database_url)
        engine = make_engine(settings.database_url)
        app[keys.STORE] = DeskStore(engine, presence_seconds=settings.presence_seconds)
        app[keys.SHOP] = ShopStore(engine)
        await run(app[keys.STORE].seed_canned_replies)
        app[keys.RASA] = RasaClient(settings.rasa_url, settings.rasa_jwt_secret, settings.rasa_timeout)
        app[keys.NOTIFY] = NotifyStore(engine)
        app[keys.EVIDENCE] = await run(open_access, evidence_options, engine)
        poller = asyncio.create_task(poll(app[keys.STORE], app[keys.HUB], settings.poll_seconds))
        outbox = asyncio.create_task(run_forever(_dispatcher(app, settings), settings.notify))
        waiting = asyncio.create_task(queue_news.run_forever(app[keys.STORE], app[keys.RASA],
                                                            settings.queue_news_seconds))
        yield
        for task in (poller, outbox, waiting):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await app[keys.RASA].close()
        engine.dispose()

    async def on_shutdown(app: web.Application) -> None:
        app[keys.HUB].close()

    app.cleanup_ctx.append(lifecycle)
    # aiohttp 3.9 declares Signal[Callable[[Application], ...]]; aiosignal 1.4 made Signal generic over the
    # receivers' arguments, so the stub now asks for receivers that take a callable: on_shutdown is right
    app.on_shutdown.append(on_shutdown)  # type: ignore[arg-type]  # aiohttp 3.9's stub vs aiosignal 1.4
    app.router.add_get("/", page)
    app.router.add_get("/healthz", healthz)
    app.router.add_static("/static/", STATIC, show_index=False)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/password", change_password)
    app.router.add_post("/api/presence", presence)
    app.router.add_get("/api/queue", queue)
    app.router.add_get("/api/agents", agents)
    app.router.add_get("/api/handoffs/{handoff_id}", handoff_detail)
    app.router.add_post("/api/handoffs/{handoff_id}/claim", claim)
    app.router.add_post("/api/handoffs/{handoff_id}/transfer", transfer)
    app.router.add_post("/api/handoffs/{handoff_id}/reply", reply)
    app.router.add_post("/api/handoffs/{handoff_id}/resolve", resolve)
    app.router.add_post("/api/handoffs/{handoff_id}/tickets/{ticket_id}/status", ticket_status)
    app.router.add_get("/api/handoffs/{handoff_id}/suggestions", suggestions)
    app.router.add_get("/api/canned", canned)
    app.router.add_get("/api/metrics", metrics)
    app.router.add_get("/api/events", events)
    evidence.register(app)
    app.router.add_post("/shop/events", webhook.handler(lambda request: request.app[keys.NOTIFY],
                                                        settings.shop_webhook_secret,
                                                        settings.notify.webhook_window_seconds))
    dashboard.register(app)
    routing.register(app)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines carry sender ids
    settings = load_desk_settings()
    web.run_app(create_app(settings), host=settings.host, port=settings.port, access_log=None)

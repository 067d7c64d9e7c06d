"""The managers' dashboard on the agent desk: service figures with charts
and a date-range filter, and the trainers' list of misunderstood messages
(label, export as Rasa NLU YAML). Wired into the desk by
``register(app)`` from :func:`kefu.desk.app.create_app`.

Routes (behind the desk's session and CSRF middleware like every ``/api/``)::

    GET  /dashboard                              the page
    GET  /api/analytics/metrics?from=YYYY-MM-DD&to=YYYY-MM-DD   figures (both days included, UTC)
    POST /api/analytics/ingest                   fold the tracker store's new events now
    GET  /api/analytics/intents                  the labels to choose from
    GET  /api/analytics/misunderstood?status=new|labelled|ignored|exported|all&from=&to=
    POST /api/analytics/misunderstood/{id}/label {intent} | {ignore: true} | {intent: null} (clear)
    GET  /api/analytics/export[?all=1][&mark=1]  labelled messages as NLU YAML (a download)
    GET  /api/analytics/answers                  candidate FAQs: agents' answers to what the bot could not
                                                 answer, similar questions grouped (kefu/analytics/answers.py)
    POST /api/analytics/answers/approve          {candidate_ids, topic, questions, answer_zh, answer_en}
    POST /api/analytics/answers/reject           {candidate_ids}
    GET  /api/analytics/answers/export[?all=1][&mark=1]  approved topics as Rasa data (a download)

Any logged-in agent may see it unless ``KEFU_DESK_MANAGERS`` lists the
usernames allowed (comma-separated); others get 403. Approving and
rejecting learned answers is for the trainers (``KEFU_DESK_TRAINERS``;
unset: whoever may see the dashboard). With
``KEFU_ANALYTICS_INGEST_SECONDS`` > 0 (default 60) the desk also folds the
tracker store (``KEFU_TRACKER_URL``, default ``var/tracker.db``) that often.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Coroutine, Iterable, List, Optional, ParamSpec, Tuple, TypeVar

from aiohttp import web

from kefu.analytics import answers, ingest, metrics, trainer
from kefu.core.config import load_settings
from kefu.desk import auth, keys
from kefu.desk.http import json_body, ok

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
REGISTERED: "web.AppKey[bool]" = web.AppKey("analytics_dashboard")
MANAGERS: "web.AppKey[frozenset]" = web.AppKey("analytics_managers")
TRAINERS: "web.AppKey[frozenset]" = web.AppKey("analytics_trainers")
TRACKER: "web.AppKey[Optional[str]]" = web.AppKey("analytics_tracker_url")
DEFAULT_DAYS = 7


P = ParamSpec("P")
T = TypeVar("T")


def _run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, T]:
    return asyncio.to_thread(fn, *args, **kwargs)


def _engine(request: web.Request) -> Any:
    return request.app[keys.STORE].engine


def _allowed(request: web.Request) -> None:
    managers = request.app[MANAGERS]
    if managers and request["agent"].username not in managers:
        raise web.HTTPForbidden()


def _trainer(request: web.Request) -> None:
    _allowed(request)
    trainers = request.app[TRAINERS]
    if trainers and request["agent"].username not in trainers:
        raise web.HTTPForbidden()


def _ids(value: Any) -> List[int]:
    if not isinstance(value, list) or not value or len(value) > 500:
        raise web.HTTPBadRequest()
    try:
        return [int(v) for v in value]
    except (TypeError, ValueError):
        raise web.HTTPBadRequest() from None


async def get_answers(request: web.Request) -> web.Response:
    _allowed(request)
    return ok({"groups": await _run(answers.groups, _engine(request))})


async def post_approve(request: web.Request) -> web.Response:
    _trainer(request)
    body = await json_body(request)
    questions = body.get("questions")
    if not isinstance(questions, list):
        raise web.HTTPBadRequest()
    try:
        proposal = await _run(answers.approve, _engine(request), _ids(body.get("candidate_ids")),
                              str(body.get("topic") or ""), questions, str(body.get("answer_zh") or ""),
                              str(body.get("answer_en") or ""), request["agent"].id, trainer.known_intents())
    except answers.Invalid as invalid:
        return auth.error(400, str(invalid))
    await _run(request.app[keys.STORE].audit, request["agent"].id, "approve_answer", f"faq:{proposal['topic']}",
               f"{len(proposal['questions'])} questions")
    return ok({"ok": True, "proposal": proposal})


async def post_reject(request: web.Request) -> web.Response:
    _trainer(request)
    body = await json_body(request)
    rejected = await _run(answers.reject, _engine(request), _ids(body.get("candidate_ids")))
    return ok({"ok": True, "rejected": rejected})


async def get_answers_export(request: web.Request) -> web.Response:
    _allowed(request)
    text = await _run(answers.export, _engine(request), request.query.get("all") == "1",
                      request.query.get("mark") == "1")
    name = f"faq_learned_{date.today():%Y%m%d}.yml"
    return web.Response(text=text, content_type="application/x-yaml", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _range(request: web.Request) -> Tuple[datetime, datetime]:
    try:
        last = date.fromisoformat(request.query["to"]) if request.query.get("to") else date.today()
        first = (date.fromisoformat(request.query["from"]) if request.query.get("from")
                 else last - timedelta(days=DEFAULT_DAYS - 1))
    except ValueError:
        raise web.HTTPBadRequest() from None
    if first > last or (last - first).days > 366:
        raise web.HTTPBadRequest()
    return metrics.day_range(first, last)


async def page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "dashboard.html", headers={"Cache-Control": "no-store"})


#: Apache ECharts, installed from the npm registry by ``make install`` (kefu/desk/package.json) and
#: served from here: the dashboard loads nothing from another origin
ECHARTS = Path(__file__).resolve().parent / "node_modules" / "echarts" / "dist" / "echarts.min.js"


async def echarts(request: web.Request) -> web.StreamResponse:
    """The charting library, or 404 when npm was not there to install it
    (the dashboard then shows the same figures as tables)."""
    if not ECHARTS.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(ECHARTS, headers={"Cache-Control": "private, max-age=86400"})


async def get_metrics(request: web.Request) -> web.Response:

    _allowed(request)
    start, end = _range(request)
    return ok(await _run(metrics.compute, _engine(request), start, end))


async def post_ingest(request: web.Request) -> web.Response:

    _allowed(request)
    read = await _run(ingest.ingest_tracker_store, _engine(request), request.app[TRACKER])
    return ok({"ok": True, "events": read})


async def get_intents(request: web.Request) -> web.Response:

    _allowed(request)
    return ok({"intents": await _run(trainer.known_intents)})


async def get_misunderstood(request: web.Request) -> web.Response:

    _allowed(request)
    status = request.query.get("status") or "new"
    if status != "all" and status not in trainer.STATUSES:
        raise web.HTTPBadRequest()
    start = end = None
    if request.query.get("from") or request.query.get("to"):
        start, end = _range(request)
    rows = await _run(trainer.misunderstood, _engine(request), None if status == "all" else status, start, end)
    return ok({"messages": rows})


async def post_label(request: web.Request) -> web.Response:

    _allowed(request)
    body = await json_body(request)
    try:
        message_id = int(request.match_info["message_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    intent = body.get("intent")
    intent = str(intent).strip() if intent not in (None, "") else None
    try:
        view = await _run(trainer.label, _engine(request), message_id, intent, request["agent"].id,
                          bool(body.get("ignore")))
    except ValueError:
        return auth.error(400, "bad_intent")
    if view is None:
        raise web.HTTPNotFound()
    return ok({"ok": True, "message": view})


async def get_export(request: web.Request) -> web.Response:
    _allowed(request)
    text = await _run(trainer.export, _engine(request), request.query.get("all") == "1",
                      request.query.get("mark") == "1")
    name = f"labelled_{date.today():%Y%m%d}.yml"
    return web.Response(text=text, content_type="application/x-yaml", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


INGEST_SECONDS = web.AppKey("kefu.analytics.ingest_seconds", float)


def register(app: web.Application, managers: Optional[Iterable[str]] = None, tracker_url: Optional[str] = None,
             ingest_seconds: Optional[float] = None, trainers: Optional[Iterable[str]] = None) -> None:
    """Add the dashboard's routes (and the periodic ingest) to the desk app.

    `create_app` calls it with the settings from the environment; a later
    call (tests, an embedding app) changes the arguments it passes and keeps
    the others. Call before the app starts."""
    if app.get(REGISTERED):
        if managers is not None:
            app[MANAGERS] = frozenset(m.strip().lower() for m in managers if m and m.strip())
        if tracker_url is not None:
            app[TRACKER] = tracker_url
        if ingest_seconds is not None:
            app[INGEST_SECONDS] = ingest_seconds
        if trainers is not None:
            app[TRAINERS] = frozenset(m.strip().lower() for m in trainers if m and m.strip())
        return
    app[REGISTERED] = True
    if managers is None:
        managers = list(load_settings().desk.managers)
    app[MANAGERS] = frozenset(m.strip().lower() for m in managers if m and m.strip())
    if trainers is None:
        trainers = list(load_settings().desk.trainers)
    app[TRAINERS] = frozenset(m.strip().lower() for m in trainers if m and m.strip())
    app[TRACKER] = tracker_url
    if ingest_seconds is None:
        ingest_seconds = load_settings().desk.analytics_ingest_seconds
    app[INGEST_SECONDS] = ingest_seconds

    async def periodic(app: web.Application) -> AsyncIterator[None]:
        async def from_broker() -> None:
            """Production: Rasa's tracker store is Redis, its events come
            through RabbitMQ; the desk consumes them as they happen (the
            shoppers' service records show their conversations at once)."""
            while app[INGEST_SECONDS] > 0:
                settings = load_settings()
                try:
                    await ingest.consume_rabbitmq(app[keys.STORE].engine, settings.rabbitmq_url, settings.events_queue)
                except Exception as error:  # the broker away: keep the desk up, try again later
                    logger.warning("analytics: the event queue could not be consumed: %s", type(error).__name__)
                await asyncio.sleep(app[INGEST_SECONDS])

        async def loop() -> None:
            if app[TRACKER] is None and load_settings().profile == "production":
                return await from_broker()
            while app[INGEST_SECONDS] > 0:
                try:
                    await _run(ingest.ingest_tracker_store, app[keys.STORE].engine, app[TRACKER])
                except Exception as error:  # keep the desk up; try again later
                    logger.warning("analytics ingest failed: %s", type(error).__name__)
                await asyncio.sleep(app[INGEST_SECONDS])

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(periodic)

    app.router.add_get("/dashboard", page)
    app.router.add_get("/vendor/echarts.min.js", echarts)
    app.router.add_get("/api/analytics/metrics", get_metrics)
    app.router.add_post("/api/analytics/ingest", post_ingest)
    app.router.add_get("/api/analytics/intents", get_intents)
    app.router.add_get("/api/analytics/misunderstood", get_misunderstood)
    app.router.add_post("/api/analytics/misunderstood/{message_id}/label", post_label)
    app.router.add_get("/api/analytics/export", get_export)
    app.router.add_get("/api/analytics/answers", get_answers)
    app.router.add_post("/api/analytics/answers/approve", post_approve)
    app.router.add_post("/api/analytics/answers/reject", post_reject)
    app.router.add_get("/api/analytics/answers/export", get_answers_export)

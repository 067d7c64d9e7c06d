"""The desk under test: a real shop database (SQLite, and PostgreSQL through
the shared ``db_url`` fixture), the desk app served on a free port from a
thread, and a fake Rasa HTTP server that records what the desk asks of it
and plays the part of ``action_agent_message`` (pops the agent's messages
into the tracker as bot turns)."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import httpx
import jwt
import pytest
from aiohttp import web

from kefu.desk.app import create_app
from kefu.desk.settings import DeskSettings
from kefu.store.db import make_engine, migrate
from kefu.store.desk import DeskStore
from kefu.store.seed import seed
from tests.conftest import NOW, free_port

PASSWORD = "correct horse 123"


class ServedApp:
    """An aiohttp app served from its own thread and event loop."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.failure: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        if not self.started.wait(30):
            raise RuntimeError("the app did not start")
        if self.failure:
            raise self.failure

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.runner = web.AppRunner(self.app, access_log=None)
            self.loop.run_until_complete(self.runner.setup())
            site = web.TCPSite(self.runner, "127.0.0.1", self.port, shutdown_timeout=1)
            self.loop.run_until_complete(site.start())
        except BaseException as error:
            self.failure = error
            self.started.set()
            return
        self.started.set()
        self.loop.run_forever()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


#: the JWT secret the test desk and its fake Rasa share
JWT_SECRET = "desk-test-jwt-secret-0123456789"


class FakeRasa:
    """Records ``execute`` calls and serves trackers; like Rasa with
    ``--jwt-secret`` it refuses a call without a valid admin JWT."""

    def __init__(self, desk_store: Optional[DeskStore] = None, jwt_secret: Optional[str] = None) -> None:
        self.calls: List[Dict[str, Any]] = []
        self.events: Dict[str, List[Dict[str, Any]]] = {}
        self.desk_store = desk_store
        self.jwt_secret = jwt_secret
        #: connectors this Rasa has (Rasa collects the messages for any other name)
        self.connectors = {"latest", "telegram", "wechat", "webchat", "email"}
        self.refuse_next = 0  # answer this many execute calls 503, as an overloaded Rasa does
        app = web.Application()
        app.router.add_post("/conversations/{cid}/execute", self._execute)
        app.router.add_get("/conversations/{cid}/tracker", self._tracker)
        self.server = ServedApp(app)
        self.url = self.server.url

    def say(self, conversation_id: str, sender: str, text: str) -> None:
        self.events.setdefault(conversation_id, []).append(
            {"event": "user" if sender == "user" else "bot", "text": text, "timestamp": time.time()}
        )

    def executed(self, action: str) -> List[Dict[str, Any]]:
        return [c for c in self.calls if c["name"] == action]

    def _authorised(self, request: web.Request) -> bool:
        if not self.jwt_secret:
            return True
        header = request.headers.get("Authorization", "")
        try:
            claims = jwt.decode(header.removeprefix("Bearer "), self.jwt_secret, algorithms=["HS256"])
        except jwt.InvalidTokenError:
            return False
        return claims.get("user", {}).get("role") == "admin"

    async def _execute(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        cid = request.match_info["cid"]
        body = await request.json()
        self.calls.append({"conversation_id": cid, "name": body.get("name"), "query": dict(request.query)})
        if body.get("name") == "action_agent_message" and self.desk_store is not None:
            for text in await asyncio.to_thread(self.desk_store.pop_agent_messages, cid):
                self.say(cid, "bot", text)
        if self.refuse_next:
            self.refuse_next -= 1
            return web.json_response({"error": "busy"}, status=503)
        # like Rasa: "messages" only when no connector of that name was there to send them
        body = {"tracker": {"sender_id": cid}}
        return web.json_response(body if request.query.get("output_channel") in self.connectors
                                 else {**body, "messages": []})

    async def _tracker(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": "unauthorized"}, status=401)
        cid = request.match_info["cid"]
        return web.json_response({"sender_id": cid, "events": self.events.get(cid, [])})

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def desk_url(db_url) -> str:
    """A migrated shop with a few demo orders, on SQLite and PostgreSQL."""
    migrate(db_url)
    engine = make_engine(db_url)
    seed(engine, orders=12, now=NOW)
    engine.dispose()
    return db_url


@pytest.fixture
def desk_store(desk_url):
    engine = make_engine(desk_url)
    yield DeskStore(engine)
    engine.dispose()


@pytest.fixture
def fake_rasa(desk_store):
    rasa = FakeRasa(desk_store, jwt_secret=JWT_SECRET)
    yield rasa
    rasa.stop()


@pytest.fixture
def desk(desk_url, fake_rasa):
    settings = DeskSettings(database_url=desk_url, rasa_url=fake_rasa.url, rasa_jwt_secret=JWT_SECRET,
                            session_hours=8, poll_seconds=0.2)
    server = ServedApp(create_app(settings))
    yield server
    server.stop()


@pytest.fixture
def make_agent(desk_store) -> Callable[..., int]:
    def make(username: str, name: Optional[str] = None, max_concurrent: int = 3) -> int:
        return desk_store.add_agent(username, name or username.title(), PASSWORD, max_concurrent=max_concurrent)

    return make


@pytest.fixture
def client(desk):
    """A browser-like client factory: ``client()`` anonymous, ``client("li")`` logged in."""
    made: List[httpx.Client] = []

    def make(username: Optional[str] = None, csrf: bool = True) -> httpx.Client:
        headers = {"X-Requested-With": "XMLHttpRequest"} if csrf else {}
        c = httpx.Client(base_url=desk.url, headers=headers, timeout=15)
        made.append(c)
        if username:
            response = c.post("/api/login", json={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.text
        return c

    yield make
    for c in made:
        c.close()


def wait_for(check: Callable[[], Any], timeout: float = 10.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(every)

"""A local fake of the Telegram Bot API for the connector tests.

It speaks the real wire format (https://core.telegram.org/bots/api): methods
at ``/bot<token>/<method>`` taking query-string, form, multipart or JSON
parameters and answering ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": ..., "description": ..., "parameters": ...}``;
``getUpdates`` long-polls and confirms updates by ``offset``; it refuses
``getUpdates`` while a webhook is set (409) like Telegram does; after
``setWebhook`` it can deliver updates to the webhook with the
``X-Telegram-Bot-Api-Secret-Token`` header, as Telegram does. Files a test
registers (photos, documents) are described by ``getFile`` and downloaded
from ``/file/bot<token>/<file_path>``, as from the real file endpoint. Every
call and every download is recorded. It runs on a free port in its own thread, so a test (or a Rasa
server in another process) can talk to it while the test waits.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import httpx
from aiohttp import web

JSON_PARAMS = ("reply_markup", "allowed_updates", "entities", "caption_entities", "reply_parameters")


@dataclass
class Call:
    method: str
    params: Dict[str, Any]


class FakeTelegram:
    """``with FakeTelegram(token) as tg: ...`` - ``tg.api_base`` is what the
    connector's ``api_base`` must be."""

    def __init__(self, token: str = "123456:TEST-token", bot_username: str = "KefuTestBot") -> None:
        self.token = token
        self.bot_username = bot_username
        self.calls: List[Call] = []
        self.unknown_chats: set[int] = set()
        self.webhook: Dict[str, Any] = {"url": "", "secret_token": None}
        self._failures: Dict[str, List[Dict[str, Any]]] = {}
        self._updates: List[Dict[str, Any]] = []
        # every bot numbers its own updates: two fake bots of one test session
        # (sharing one channel-state database) must not reuse each other's ids,
        # or Kefu rightly drops the second as already handled
        self._update_ids = itertools.count(random.randrange(10**8, 2 * 10**9))
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(9_000_000)
        self._file_ids = itertools.count(1)
        #: file_id -> {"data", "file_size" (what getFile declares), "file_path"}
        self.files: Dict[str, Dict[str, Any]] = {}
        #: file_path of every download served (or failed on purpose)
        self.downloads: List[str] = []
        self._download_failures: List[int] = []
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None
        self.port = 0

    # ---- lifecycle ----------------------------------------------------------

    def __enter__(self) -> "FakeTelegram":
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application()
            app.router.add_route("GET", "/file/{bot}/{path:.+}", self._download)
            app.router.add_route("*", "/{bot}/{method}", self._handle)
            self._runner = web.AppRunner(app)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # start() has set it
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-telegram", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Telegram did not start")
        return self

    def __exit__(self, *_: Any) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def file_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ---- test controls ------------------------------------------------------

    def fail_next(self, method: str, status: int, description: str, *, times: int = 1,
                  retry_after: Optional[int] = None) -> None:
        """The next ``times`` calls of ``method`` fail with this Bot API error."""
        error: Dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            error["parameters"] = {"retry_after": retry_after}
        with self._lock:
            self._failures.setdefault(method, []).extend(dict(error) for _ in range(times))

    def queue(self, update: Dict[str, Any]) -> Dict[str, Any]:
        """Make ``update`` available to getUpdates."""
        with self._lock:
            self._updates.append(update)
        return update

    def add_file(self, data: bytes, *, declared: Optional[int] = None, extension: str = "jpg") -> Dict[str, Any]:
        """Keep ``data`` as a file Telegram holds; its ``file_id`` and
        ``file_unique_id``. ``declared`` is the size getFile (and an update)
        states, the real one unless a test wants Telegram to be wrong."""
        number = next(self._file_ids)
        file_id = f"AgACAgIAAxkBAAI{number:04d}-{random.randrange(10**6)}"
        with self._lock:
            self.files[file_id] = {"data": data, "file_size": len(data) if declared is None else declared,
                                   "file_path": f"photos/file_{number}.{extension}"}
        return {"file_id": file_id, "file_unique_id": f"AQAD{number:04d}"}

    def photo_size(self, data: bytes, width: int, height: int, *, declared: Optional[int] = None) -> Dict[str, Any]:
        """A PhotoSize of an update, for ``data`` kept as a file."""
        ref = self.add_file(data, declared=declared)
        return {**ref, "width": width, "height": height, "file_size": self.files[ref["file_id"]]["file_size"]}

    def fail_downloads(self, status: int, times: int = 1) -> None:
        """The next ``times`` file downloads fail with this HTTP status."""
        with self._lock:
            self._download_failures.extend([status] * times)

    def calls_of(self, method: str, chat_id: Optional[int] = None) -> List[Call]:
        with self._lock:
            calls = [c for c in self.calls if c.method == method]
        if chat_id is not None:
            calls = [c for c in calls if str(c.params.get("chat_id")) == str(chat_id)]
        return calls

    def texts_to(self, chat_id: int) -> List[str]:
        return [c.params.get("text", "") for c in self.calls_of("sendMessage", chat_id)]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError(f"fake Telegram: condition not met within {timeout} s; calls: {self.calls}")

    async def await_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            await asyncio.sleep(0.05)
        raise AssertionError(f"fake Telegram: condition not met within {timeout} s; calls: {self.calls}")

    # ---- updates as Telegram sends them -----------------------------------------

    def _user(self, chat_id: int, language_code: str) -> Dict[str, Any]:
        return {"id": chat_id, "is_bot": False, "first_name": "测试", "language_code": language_code}

    def text_update(self, chat_id: int, text: str, language_code: str = "zh-hans") -> Dict[str, Any]:
        message: Dict[str, Any] = {
            "message_id": next(self._message_ids), "date": int(time.time()),
            "from": self._user(chat_id, language_code),
            "chat": {"id": chat_id, "first_name": "测试", "type": "private"},
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split(" ")[0])}]
        return {"update_id": next(self._update_ids), "message": message}

    def photo_update(self, chat_id: int, caption: Optional[str] = None, language_code: str = "zh-hans",
                     photos: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
        """A photo message: ``photos`` are its PhotoSizes, smallest first as
        Telegram sends them (``photo_size``); by default two sizes of a file
        the fake does not hold."""
        update = self.text_update(chat_id, "", language_code)
        message = update["message"]
        del message["text"]
        message["photo"] = photos if photos is not None else [
            {"file_id": "AgAC-small", "file_unique_id": "s1", "width": 90, "height": 67, "file_size": 1200},
            {"file_id": "AgAC-large", "file_unique_id": "l1", "width": 1280, "height": 960, "file_size": 98000},
        ]
        if caption is not None:
            message["caption"] = caption
        return update

    def document_update(self, chat_id: int, data: bytes, mime_type: str, file_name: str = "IMG_0001.jpg",
                        caption: Optional[str] = None, language_code: str = "zh-hans") -> Dict[str, Any]:
        """A file sent as a document (``data`` kept by the fake)."""
        update = self.text_update(chat_id, "", language_code)
        message = update["message"]
        del message["text"]
        ref = self.add_file(data, extension=file_name.rpartition(".")[2] or "bin")
        message["document"] = {**ref, "file_name": file_name, "mime_type": mime_type, "file_size": len(data)}
        if caption is not None:
            message["caption"] = caption
        return update

    def callback_update(self, chat_id: int, data: str, message_id: int = 1,
                        language_code: str = "zh-hans") -> Dict[str, Any]:
        return {"update_id": next(self._update_ids), "callback_query": {
            "id": str(next(self._callback_ids)), "from": self._user(chat_id, language_code),
            "message": {"message_id": message_id, "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private"}, "text": "…"},
            "chat_instance": "-42", "data": data,
        }}

    def click(self, chat_id: int, title: str) -> Dict[str, Any]:
        """The callback query of the button titled ``title`` in the last
        keyboard sent to ``chat_id``, as a shopper's tap produces it."""
        for call in reversed(self.calls_of("sendMessage", chat_id)):
            markup = call.params.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if button.get("text") == title:
                        return self.callback_update(chat_id, button["callback_data"], call.params["_message_id"])
        raise AssertionError(f"no button {title!r} was sent to {chat_id}")

    def webhook_request(self, update: Dict[str, Any], secret: Optional[str] = "<registered>") -> Dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        secret = self.webhook["secret_token"] if secret == "<registered>" else secret
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        return {"url": self.webhook["url"], "headers": headers, "content": json.dumps(update).encode()}

    def deliver(self, update: Dict[str, Any], timeout: float = 60) -> httpx.Response:
        """POST ``update`` to the registered webhook, as Telegram would."""
        assert self.webhook["url"], "no webhook registered"
        return httpx.post(**self.webhook_request(update), timeout=timeout)

    # ---- the Bot API ---------------------------------------------------------------

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(status: int, description: str, parameters: Optional[Dict[str, Any]] = None) -> web.Response:
        body: Dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    async def _params(self, request: web.Request) -> Dict[str, Any]:
        params: Dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.method == "POST":
            for key, value in (await request.post()).items():
                params[key] = value if isinstance(value, str) else value.file.read()
            for key in JSON_PARAMS:
                if isinstance(params.get(key), str):
                    params[key] = json.loads(params[key])
        return params

    def _message(self, chat_id: Any, **content: Any) -> Dict[str, Any]:
        return {"message_id": next(self._message_ids), "date": int(time.time()),
                "from": {"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "Kefu",
                         "username": self.bot_username},
                "chat": {"id": int(chat_id), "type": "private"}, **content}

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["bot"] != f"bot{self.token}":
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        try:
            params = await self._params(request)
        except (ValueError, UnicodeDecodeError):
            return self._error(400, "Bad Request: can't parse parameters")
        call = Call(method, params)
        with self._lock:
            self.calls.append(call)
            failure = self._failures.get(method, []).pop(0) if self._failures.get(method) else None
        if failure:
            return web.json_response(failure, status=failure["error_code"])
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        return await handler(params, call)

    def _chat(self, params: Dict[str, Any]) -> Optional[int]:
        try:
            chat_id = int(params.get("chat_id"))
        except (TypeError, ValueError):
            return None
        return None if chat_id in self.unknown_chats else chat_id

    async def _m_getMe(self, params: Dict[str, Any], call: Call) -> web.Response:
        return self._ok({"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "Kefu",
                         "username": self.bot_username, "can_join_groups": True,
                         "can_read_all_group_messages": False, "supports_inline_queries": False})

    async def _m_sendMessage(self, params: Dict[str, Any], call: Call) -> web.Response:
        chat_id = self._chat(params)
        if chat_id is None:
            return self._error(400, "Bad Request: chat not found")
        text = params.get("text") or ""
        if not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= 64:
                    return self._error(400, "Bad Request: BUTTON_DATA_INVALID")
        message = self._message(chat_id, text=text)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        call.params["_message_id"] = message["message_id"]
        return self._ok(message)

    async def _m_sendPhoto(self, params: Dict[str, Any], call: Call) -> web.Response:
        chat_id = self._chat(params)
        if chat_id is None:
            return self._error(400, "Bad Request: chat not found")
        if not params.get("photo"):
            return self._error(400, "Bad Request: there is no photo in the request")
        photo = [{"file_id": "AgAD-sent", "file_unique_id": "u-sent", "width": 320, "height": 240}]
        content: Dict[str, Any] = {"photo": photo}
        if params.get("caption"):
            content["caption"] = params["caption"]
        return self._ok(self._message(chat_id, **content))

    async def _m_getFile(self, params: Dict[str, Any], call: Call) -> web.Response:
        held = self.files.get(str(params.get("file_id") or ""))
        if held is None:
            return self._error(400, "Bad Request: invalid file_id")
        if held["file_size"] > 20 * 1024 * 1024:  # the Bot API's download limit
            return self._error(400, "Bad Request: file is too big")
        return self._ok({"file_id": params["file_id"], "file_unique_id": "AQAD" + params["file_id"][-6:],
                         "file_size": held["file_size"], "file_path": held["file_path"]})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """The file endpoint: the bytes of a file by its getFile path
        (404 for an unknown path, like Telegram)."""
        if request.match_info["bot"] != f"bot{self.token}":
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        path = request.match_info["path"]
        with self._lock:
            self.downloads.append(path)
            failure = self._download_failures.pop(0) if self._download_failures else None
            held = next((f for f in self.files.values() if f["file_path"] == path), None)
        if failure:
            return web.json_response({"ok": False, "error_code": failure, "description": "fake failure"},
                                     status=failure)
        if held is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=held["data"], content_type="application/octet-stream")

    async def _m_answerCallbackQuery(self, params: Dict[str, Any], call: Call) -> web.Response:
        if not params.get("callback_query_id"):
            return self._error(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        return self._ok(True)

    async def _m_setWebhook(self, params: Dict[str, Any], call: Call) -> web.Response:
        self.webhook = {"url": params.get("url", ""), "secret_token": params.get("secret_token")}
        return self._ok(True)

    async def _m_deleteWebhook(self, params: Dict[str, Any], call: Call) -> web.Response:
        self.webhook = {"url": "", "secret_token": None}
        if str(params.get("drop_pending_updates")).lower() == "true":
            with self._lock:
                self._updates.clear()
        return self._ok(True)

    async def _m_getUpdates(self, params: Dict[str, Any], call: Call) -> web.Response:
        if self.webhook["url"]:
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active; "
                                    "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), 50.0)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed
                pending = [u for u in self._updates if u["update_id"] >= offset][: int(params.get("limit") or 100)]
            if pending or time.monotonic() >= deadline:
                return self._ok(pending)
            await asyncio.sleep(0.05)

"""A local stand-in for WeChat: the API the connector calls (access token,
customer-service send, temporary media download) and the requests WeChat's servers send to the
connector (signed, and AES-encrypted in safe mode with wechatpy's crypto,
the way WeChat builds them).

The API runs on aiohttp in its own thread, so sync and async tests (and a
Rasa server in another process) can all reach it on a free port."""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import threading
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlencode

import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto


class FakeWeChatAPI:
    """api.weixin.qq.com for one account: issues access tokens (counting the
    fetches), accepts custom messages with a valid token and records them.
    ``revoke_tokens()`` makes every issued token expired (errcode 42001);
    ``fail_next(code)`` makes the next sends answer that errcode.
    ``add_media(data)`` keeps a file a shopper sent, served by
    ``/cgi-bin/media/get`` under the media id it returns."""

    def __init__(self, app_id: str, app_secret: str, expires_in: int = 7200) -> None:
        self.app_id, self.app_secret, self.expires_in = app_id, app_secret, expires_in
        self.token_fetches = 0
        self.valid_tokens: set = set()
        self.sent: List[Dict[str, Any]] = []
        self.send_attempts = 0
        self.failures: List[int] = []
        #: media id -> (bytes, content type), and every media id asked for
        self.media: Dict[str, Tuple[bytes, str]] = {}
        self.media_fetches: List[str] = []
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[web.AppRunner] = None
        self.url = ""

    # -- API ---------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("grant_type") != "client_credential" or q.get("appid") != self.app_id:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        if q.get("secret") != self.app_secret:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        with self._lock:
            self.token_fetches += 1
            token = f"ACCESS_TOKEN_{self.token_fetches}_{uuid.uuid4().hex[:8]}"
            self.valid_tokens.add(token)
        return web.json_response({"access_token": token, "expires_in": self.expires_in})

    async def _send(self, request: web.Request) -> web.Response:
        token = request.query.get("access_token", "")
        raw = await request.read()
        with self._lock:
            self.send_attempts += 1
            if token not in self.valid_tokens:
                return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
            if self.failures:
                code = self.failures.pop(0)
                return web.json_response({"errcode": code, "errmsg": "fake failure"})
        try:
            message = json.loads(raw.decode("utf-8"))
        except ValueError:
            return web.json_response({"errcode": 47001, "errmsg": "data format error"})
        if "touser" not in message or message.get("msgtype") not in message:
            return web.json_response({"errcode": 47001, "errmsg": "data format error"})
        with self._lock:
            self.sent.append(message)
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def _media(self, request: web.Request) -> web.Response:
        """/cgi-bin/media/get: the file as WeChat serves it (its type and an
        attachment name), or a JSON errcode (the HTTP status is 200 either
        way, like WeChat's)."""
        token, media_id = request.query.get("access_token", ""), request.query.get("media_id", "")
        with self._lock:
            self.media_fetches.append(media_id)
            if token not in self.valid_tokens:
                return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
            held = self.media.get(media_id)
        if held is None:
            return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        data, content_type = held
        return web.Response(body=data, content_type=content_type,
                            headers={"Content-Disposition": f'attachment; filename="{media_id}.jpg"'})

    # -- control -----------------------------------------------------------
    def add_media(self, data: bytes, content_type: str = "image/jpeg") -> str:
        """Keep ``data`` as a temporary media file; its media id."""
        media_id = f"MEDIA_{uuid.uuid4().hex}"
        with self._lock:
            self.media[media_id] = (data, content_type)
        return media_id

    def revoke_tokens(self) -> None:
        with self._lock:
            self.valid_tokens.clear()

    def fail_next(self, *codes: int) -> None:
        with self._lock:
            self.failures.extend(codes)

    def messages_to(self, openid: str) -> List[Dict[str, Any]]:
        with self._lock:
            return [m for m in self.sent if m["touser"] == openid]

    def wait_for(self, openid: str, count: int, timeout: float = 10.0) -> List[Dict[str, Any]]:
        """Block until ``count`` messages reached ``openid`` (or timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages_to(openid)) < count:
            time.sleep(0.05)
        return self.messages_to(openid)

    async def await_for(self, openid: str, count: int, timeout: float = 10.0) -> List[Dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages_to(openid)) < count:
            await asyncio.sleep(0.05)
        return self.messages_to(openid)

    def start(self) -> "FakeWeChatAPI":
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_get("/cgi-bin/token", self._token)
            app.router.add_post("/cgi-bin/message/custom/send", self._send)
            app.router.add_get("/cgi-bin/media/get", self._media)
            self._runner = web.AppRunner(app)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


class WeChatServer:
    """Builds requests exactly as WeChat's servers send them to the
    developer's URL: query ``signature, timestamp, nonce, openid`` (plus
    ``encrypt_type=aes, msg_signature`` in safe mode) and the XML body."""

    _msg_ids = itertools.count(int(time.time()) * 1000)

    def __init__(self, token: str, app_id: str, encoding_aes_key: Optional[str] = None,
                 account: str = "gh_kefu00000001") -> None:
        self.token, self.app_id, self.account = token, app_id, account
        self.crypto = WeChatCrypto(token, encoding_aes_key, app_id) if encoding_aes_key else None

    def sign(self, timestamp: str, nonce: str, *extra: str) -> str:
        return hashlib.sha1("".join(sorted([self.token, timestamp, nonce, *extra])).encode()).hexdigest()

    def next_msg_id(self) -> int:
        """A MsgId no other request of this test run had: Kefu drops a
        message whose id it has seen (WeChat's retries), so two servers made
        within one second must not both start at the same id."""
        return next(WeChatServer._msg_ids)

    def verification(self, echostr: str = "echo-5830921") -> str:
        ts, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
        return "?" + urlencode({"signature": self.sign(ts, nonce), "echostr": echostr, "timestamp": ts, "nonce": nonce})

    def xml(self, openid: str, msg_type: str, fields: Dict[str, Any], create_time: Optional[int] = None,
            msg_id: Optional[int] = None) -> str:
        parts = [f"<ToUserName><![CDATA[{self.account}]]></ToUserName>",
                 f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
                 f"<CreateTime>{create_time or int(time.time())}</CreateTime>",
                 f"<MsgType><![CDATA[{msg_type}]]></MsgType>"]
        for name, value in fields.items():
            parts.append(f"<{name}>{value}</{name}>" if isinstance(value, int)
                         else f"<{name}><![CDATA[{value}]]></{name}>")
        if msg_type != "event":
            parts.append(f"<MsgId>{msg_id or self.next_msg_id()}</MsgId>")
        return "<xml>" + "".join(parts) + "</xml>"

    def text(self, openid: str, content: str, **kw: Any) -> str:
        return self.xml(openid, "text", {"Content": content}, **kw)

    def menu_click(self, openid: str, content: str, item_id: str, **kw: Any) -> str:
        return self.xml(openid, "text", {"Content": content, "bizmsgmenuid": item_id}, **kw)

    def voice(self, openid: str, recognition: Optional[str] = None, **kw: Any) -> str:
        fields = {"MediaId": "media-voice-1", "Format": "amr"}
        if recognition is not None:
            fields["Recognition"] = recognition
        return self.xml(openid, "voice", fields, **kw)

    def image(self, openid: str, pic_url: str, media_id: str = "media-image-1", **kw: Any) -> str:
        return self.xml(openid, "image", {"PicUrl": pic_url, "MediaId": media_id}, **kw)

    def event(self, openid: str, event: str, key: Optional[str] = None, create_time: Optional[int] = None) -> str:
        fields: Dict[str, Any] = {"Event": event}
        if key is not None:
            fields["EventKey"] = key
        return self.xml(openid, "event", fields, create_time=create_time)

    def post(self, xml: str, encrypted: bool = False, openid: str = "", bad_signature: bool = False,
             bad_msg_signature: bool = False, timestamp: Optional[int] = None,
             nonce: Optional[str] = None) -> Tuple[str, bytes]:
        """(query string, body) of WeChat's POST carrying ``xml``, signed
        now (or at ``timestamp``) with a fresh nonce (or ``nonce``)."""
        ts, nonce = str(int(timestamp if timestamp is not None else time.time())), nonce or uuid.uuid4().hex[:10]
        query = {"signature": self.sign(ts, nonce), "timestamp": ts, "nonce": nonce}
        if openid:
            query["openid"] = openid
        if bad_signature:
            query["signature"] = "0" * 40
        body = xml.encode("utf-8")
        if encrypted:
            assert self.crypto is not None
            packed = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, ts))["xml"]
            query.update(encrypt_type="aes", msg_signature=packed["MsgSignature"])
            if bad_msg_signature:
                query["msg_signature"] = "f" * 40
            body = (f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName>"
                    f"<Encrypt><![CDATA[{packed['Encrypt']}]]></Encrypt></xml>").encode("utf-8")
        self.last_nonce, self.last_timestamp = nonce, ts
        return "?" + urlencode(query), body

    def read_reply(self, body: str, encrypted: bool = False) -> Optional[Dict[str, Any]]:
        """A passive reply as WeChat reads it (decrypted, signature checked);
        None for "success" / empty."""
        if body.strip() in ("", "success"):
            return None
        if encrypted:
            packed = xmltodict.parse(body)["xml"]
            body = self.crypto.decrypt_message(body, packed["MsgSignature"], packed["TimeStamp"], packed["Nonce"])
        return xmltodict.parse(body)["xml"]

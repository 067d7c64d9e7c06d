"""One Kefu as an outsider meets it: every channel on (REST, the web widget,
WeChat against a fake WeChat API, Telegram against a fake Bot API, e-mail
through real local IMAP and SMTP servers), Rasa's HTTP API on for the
agent desk, the desk itself, and a shop database of its own (the attacks
lock orders and addresses; the other live tests must not feel it).

The servers believe ``X-Real-IP`` from 127.0.0.1, as they do behind nginx
in production: a test picks the client address it attacks from with
:meth:`Outsider.rest`.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import httpx
import pytest
import requests

from kefu.store.db import make_engine, migrate
from kefu.store.seed import seed
from tests.conftest import MODEL, free_port, start_kefu
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_wechat import FakeWeChatAPI, WeChatServer
from tests.support.mail_servers import IMAP_PASSWORD, IMAP_USER, ImapServer, SmtpServer

WECHAT_TOKEN = "security-wechat-token"
WECHAT_APP_ID = "wx5ecur1tytest0001"
WECHAT_SECRET = "security-app-secret"
TELEGRAM_SECRET = "security-telegram-secret"
ZHANGSAN_TELEGRAM = 10001
ZHANGSAN_OPENID = "o-demo-openid-zhangsan"
SHIPPED, PAID, RETURNABLE = "2611010000000001", "2611010000000002", "2611010000000003"
OTHER_CUSTOMER = "2611010000000007"
#: how long a proof lasts on these servers (short, so that its end can be seen)
PROOF_TTL_SECONDS = 20


@dataclass
class Outsider:
    """What an attacker can reach: the public URLs, and the internal ports
    (which must refuse them)."""

    servers: Any
    tg: FakeTelegram
    wechat_api: FakeWeChatAPI
    imap: ImapServer
    smtp: SmtpServer
    shop_url: str
    tracker_db: Path
    workdir: Path

    @property
    def base(self) -> str:
        return self.servers.rasa_url

    @property
    def desk(self) -> str:
        return self.servers.desk_url

    def rest(self, sender: str, text: str, client: Optional[str] = None, **body: Any) -> requests.Response:
        headers = {"X-Real-IP": client} if client else {}
        return requests.post(f"{self.base}/webhooks/rest/webhook", json={"sender": sender, "message": text, **body},
                             headers=headers, timeout=60)

    def say(self, sender: str, text: str, client: Optional[str] = None, **body: Any) -> str:
        response = self.rest(sender, text, client, **body)
        assert response.status_code == 200, response.text
        return "\n".join(m.get("text", "") for m in response.json())

    def telegram(self, chat: int, text: str) -> str:
        """A message from Telegram (with the webhook secret): the replies."""
        before = len(self.tg.texts_to(chat))
        response = self.tg.deliver(self.tg.text_update(chat, text))
        assert response.status_code == 200, response.text
        self.tg.wait_for(lambda: len(self.tg.texts_to(chat)) > before, timeout=60)
        time.sleep(0.3)
        return "\n".join(self.tg.texts_to(chat)[before:])

    def wechat(self) -> WeChatServer:
        return WeChatServer(WECHAT_TOKEN, WECHAT_APP_ID)

    def wechat_post(self, query: str, body: bytes) -> httpx.Response:
        return httpx.post(f"{self.base}/webhooks/wechat/webhook{query}", content=body, timeout=60)

    def logs(self) -> str:
        return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in self.workdir.glob("*.log"))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def credentials(tg: FakeTelegram, wechat_api: FakeWeChatAPI, imap: ImapServer, smtp: SmtpServer, rasa_port: int) -> str:
    return (
        "channels.rest.ReliableRestInput:\n"
        "channels.webchat.WebChatInput:\n"
        "  user_message_evt: user_uttered\n  bot_message_evt: bot_uttered\n"
        "channels.wechat.WeChatInput:\n"
        f'  token: "{WECHAT_TOKEN}"\n  app_id: "{WECHAT_APP_ID}"\n  app_secret: "{WECHAT_SECRET}"\n'
        f'  api_base: "{wechat_api.url}"\n'
        "channels.telegram.TelegramInput:\n"
        f'  token: "{tg.token}"\n  webhook_secret: "{TELEGRAM_SECRET}"\n  mode: webhook\n'
        f'  webhook_url: "http://127.0.0.1:{rasa_port}/webhooks/telegram/webhook"\n  api_base: "{tg.api_base}"\n'
        "channels.mail.MailInput:\n"
        f'  address: "{IMAP_USER}"\n  imap_host: 127.0.0.1\n  imap_port: {imap.port}\n'
        f'  imap_user: "{IMAP_USER}"\n  imap_password: "{IMAP_PASSWORD}"\n  imap_ssl: false\n'
        f"  smtp_host: 127.0.0.1\n  smtp_port: {smtp.port}\n  smtp_starttls: false\n  poll_seconds: 0.3\n"
    )


@pytest.fixture(scope="session")
def outsider(tmp_path_factory):
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train` (make test does it)")
    workdir = tmp_path_factory.mktemp("security")
    shop_url = f"sqlite:///{workdir / 'shop.db'}"
    migrate(shop_url)
    engine = make_engine(shop_url)
    seed(engine, orders=300)
    engine.dispose()
    imap, smtp = ImapServer().start(), SmtpServer().start()
    wechat_api = FakeWeChatAPI(WECHAT_APP_ID, WECHAT_SECRET).start()
    rasa_port = free_port()
    with FakeTelegram() as tg:
        servers = start_kefu(
            workdir, shop_url, credentials(tg, wechat_api, imap, smtp, rasa_port), rasa_port=rasa_port,
            tracker_db=workdir / "tracker.db", api=True, desk_port=free_port(),
            env={"KEFU_TRUSTED_PROXIES": "127.0.0.1", "KEFU_PROOF_TTL_SECONDS": str(PROOF_TTL_SECONDS),
                 "REDIS_URL": ""},
        )
        try:
            tg.wait_for(lambda: tg.webhook["url"], timeout=60)
            yield Outsider(servers, tg, wechat_api, imap, smtp, shop_url, workdir / "tracker.db", workdir)
        finally:
            servers.stop()
            wechat_api.stop()
            imap.stop()
            smtp.stop()


AGENT_PASSWORD = "sec-agent-password-1"


def desk_agent(outsider: Outsider, username: str = "sec-agent") -> requests.Session:
    """An agent logged in to the desk over HTTP (created on first use)."""
    from kefu.store.desk import DeskStore

    desk = DeskStore(make_engine(outsider.shop_url))
    if not any(a.username == username for a in desk.agents()):
        desk.add_agent(username, "安全测试", AGENT_PASSWORD, max_concurrent=50)
    desk.engine.dispose()
    session = requests.Session()
    session.headers["X-Requested-With"] = "XMLHttpRequest"
    login = session.post(f"{outsider.desk}/api/login", json={"username": username, "password": AGENT_PASSWORD},
                         timeout=30)
    assert login.status_code == 200, login.text
    return session


def handoff_of(agent: requests.Session, outsider: Outsider, conversation_id: str) -> Dict[str, Any]:
    """The desk's view of the conversation's handoff for ``agent``, once it
    is queued (given back to the queue first if another agent of these tests
    took it: they all stay online)."""
    from kefu.store.desk import DeskStore

    store = DeskStore(make_engine(outsider.shop_url))
    me = agent.get(f"{outsider.desk}/api/me", timeout=10).json()["agent"]["id"]
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            view = store.active_handoff(conversation_id)
            if view is not None:
                if view.agent_id != me:
                    for other in store.agents():  # the other agents of these tests stop taking chats
                        if other.id != me:
                            store.set_online(other.id, False)
                    if view.status == "assigned":
                        store.transfer(view.id, view.agent_id, None)
                    agent.post(f"{outsider.desk}/api/handoffs/{view.id}/claim", timeout=10)
                detail = agent.get(f"{outsider.desk}/api/handoffs/{view.id}", timeout=10)
                assert detail.status_code == 200, detail.text
                return detail.json()
            time.sleep(0.3)
    finally:
        store.engine.dispose()
    raise AssertionError(f"no handoff for {conversation_id}")


def hand_back(agent: requests.Session, outsider: Outsider, handoff_id: int) -> None:
    agent.post(f"{outsider.desk}/api/handoffs/{handoff_id}/claim", timeout=10)
    resolved = agent.post(f"{outsider.desk}/api/handoffs/{handoff_id}/resolve", timeout=30)
    assert resolved.status_code == 200 and resolved.json()["notified"] is True, resolved.text


def replies(response: requests.Response) -> List[Dict[str, Any]]:
    assert response.status_code == 200, response.text
    return response.json()

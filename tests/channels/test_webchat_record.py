"""The widget's service record (``GET /webhooks/webchat/record`` of
channels/webchat.py) over the wire, against Kefu's real Rasa and action
servers on the trained model, a socket.io client as the page: a session
that proved nothing is invited to prove; after "服务记录" and an order
proof in the chat, the bot opens the panel and the route shows the
customer's requests; another session sees nothing of them; the version
gives 304 until a status changes; no or a forged token, and pages of other
origins, are refused."""
from __future__ import annotations

import pytest
import requests
from sqlalchemy import text

from kefu.store.db import make_engine
from kefu.store.shop import ShopStore
from tests.channels.test_webchat_photo import CREDENTIALS, SHOP_ORIGIN, Page
from tests.conftest import MODEL, start_kefu


@pytest.fixture(scope="module")
def web(shop_url, tmp_path_factory):
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train`")
    servers = start_kefu(tmp_path_factory.mktemp("webchat-record"), shop_url, CREDENTIALS,
                         env={"REDIS_URL": "", "KEFU_EVIDENCE_DIR": str(tmp_path_factory.mktemp("evidence"))})
    yield servers
    servers.stop()


@pytest.fixture
def page(web):
    opened = Page(web.rasa_url)
    yield opened
    opened.close()


@pytest.fixture
def other_page(web):
    opened = Page(web.rasa_url)
    yield opened
    opened.close()


def _record(page: Page, **headers) -> requests.Response:
    sent = {"X-Kefu-Session": page.token, **headers}
    return requests.get(f"{page.server_url}/webhooks/webchat/record", headers=sent, timeout=30)


def _say(page: Page, text_: str) -> str:
    page.client.emit("user_uttered", {"message": text_})
    return page.answer()


def _opened(page: Page, timeout: float = 60) -> list:
    """The bot's messages up to the one that opens the record panel."""
    seen = []
    while True:
        message = page.said.get(timeout=timeout)
        seen.append(message)
        if message.get("custom") == {"kefu": "record"}:
            return seen


def test_the_record_is_shown_to_its_proven_owner_only_and_refreshes(web, page, other_page, shop_url, returnable):
    shop = ShopStore(make_engine(shop_url))
    returned = shop.create_aftersale(returnable, "return", "杯子碎了")

    before = _record(page)
    assert before.status_code == 200 and before.headers["Cache-Control"] == "no-store"
    body = before.json()
    assert body["proven"] is False and "验证" in body["text"] and body["button"]["payload"]
    assert "sections" not in body and "ETag" not in before.headers

    assert "订单号" in _say(page, body["button"]["payload"])  # the panel's button starts the proof in the chat
    assert "后4位" in _say(page, returnable)
    page.client.emit("user_uttered", {"message": "5678"})
    said = _opened(page)
    assert any("服务记录" in (m.get("text") or "") for m in said)

    shown = _record(page)
    assert shown.status_code == 200, shown.text
    record = shown.json()
    assert record["proven"] is True and record["refresh_seconds"] > 0
    [requests_] = [s for s in record["sections"] if s["key"] == "aftersales"]
    item = next(i for i in requests_["items"] if i["id"] == returned)
    assert item["status_key"] == "requested" and returnable in item["headline"] and item["next"]
    assert shown.headers["ETag"] == f'"{record["version"]}"'

    again = _record(page, **{"If-None-Match": shown.headers["ETag"]})
    assert again.status_code == 304 and not again.content

    stranger = _record(other_page)  # another session: nothing of the first one's customer
    assert stranger.status_code == 200 and stranger.json()["proven"] is False
    assert returned not in stranger.text

    with make_engine(shop_url).begin() as db:  # the shop approves the return
        db.execute(text("update aftersale_requests set status = 'approved' where id = :i"), {"i": returned})
    changed = _record(page, **{"If-None-Match": shown.headers["ETag"]})
    assert changed.status_code == 200
    item = next(i for s in changed.json()["sections"] for i in s["items"] if i["id"] == returned)
    assert item["status_key"] == "approved" and item["status"] == "已同意，等待寄回/处理"


def test_without_a_valid_token_or_from_another_origin_nothing_is_shown(web, page):
    url = f"{page.server_url}/webhooks/webchat/record"
    assert requests.get(url, timeout=30).status_code == 401
    assert requests.get(url, headers={"X-Kefu-Session": "x" * 43 + "!"}, timeout=30).status_code == 401
    forged = requests.get(url, params={"session_id": page.conversation_id}, timeout=30)
    assert forged.status_code == 401 and forged.json() == {"error": "no_session"}
    other = _record(page, Origin="https://evil.example.com")
    assert other.status_code == 403 and "Access-Control-Allow-Origin" not in other.headers
    shop = _record(page, Origin=SHOP_ORIGIN)
    assert shop.status_code == 200 and shop.headers["Access-Control-Allow-Origin"] == SHOP_ORIGIN
    preflight = requests.options(url, headers={"Origin": SHOP_ORIGIN, "Access-Control-Request-Method": "GET",
                                               "Access-Control-Request-Headers": "x-kefu-session, if-none-match"},
                                 timeout=30)
    assert preflight.status_code == 204
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "If-None-Match" in preflight.headers["Access-Control-Allow-Headers"]

"""The shopper's service record in a real browser: a widget conversation
asks for a return of a broken item and sends a photo for it; the 📋 panel
shows the request with its status and next step; the shop's signed webhook
says the refund is done: the pushed message arrives in the chat and the
open panel changes the status by itself. Another shopper's widget sees
nothing of it. Real Rasa, action server, desk (webhook and outbox) and
database; headless Chromium."""
from __future__ import annotations

import io
import re
import uuid

import httpx
import pytest
from PIL import Image

from kefu.core.config import NotifyOptions
from kefu.core.secrets import secret
from kefu.desk.app import create_app
from kefu.desk.settings import DeskSettings
from kefu.store.db import make_engine
from kefu.store.evidence import EvidenceStore
from tests.conftest import MODEL, always_open_hours, start_kefu
from tests.desk.conftest import ServedApp
from tests.notify.conftest import WEBHOOK_SECRET, signed

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
expect.set_options(timeout=30_000)  # servers share two cores with the rest of the suite


@pytest.fixture(scope="module")
def web(shop_url, tmp_path_factory):
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train`")
    servers = start_kefu(tmp_path_factory.mktemp("record-browser"), shop_url, api=True,
                         env={"REDIS_URL": "", "KEFU_EVIDENCE_DIR": str(tmp_path_factory.mktemp("evidence"))})
    yield servers
    servers.stop()


@pytest.fixture
def desk(web, shop_url, tmp_path):
    app = ServedApp(create_app(DeskSettings(
        database_url=shop_url, rasa_url=web.rasa_url, poll_seconds=0.3, rasa_jwt_secret=secret("rasa_jwt_secret"),
        shop_webhook_secret=WEBHOOK_SECRET, service_hours_path=always_open_hours(tmp_path),
        notify=NotifyOptions(quiet_hours="off", poll_seconds=0.2))))
    yield app
    app.stop()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


def _open_widget(page, url: str) -> None:
    page.goto(url)
    page.click(".kefu-wc-launcher")
    expect(page.locator("#kefu-webchat")).to_have_attribute("data-connection", "online")


def _say(page, text: str, expect_text) -> None:
    page.fill(".kefu-wc-input", text)
    page.click(".kefu-wc-send")
    expect(page.locator(".kefu-wc-bot .kefu-wc-bubble", has_text=expect_text).last).to_be_visible()


def test_a_return_with_a_photo_shows_in_the_record_and_its_refund_arrives_live(web, desk, browser, shop_url,
                                                                              returnable):
    page = browser.new_page(locale="zh-CN")
    demo = f"{web.rasa_url}/webchat/demo"
    _open_widget(page, demo)
    _say(page, "我要退货", "订单号")
    _say(page, returnable, "后4位")
    _say(page, "5678", "原因")
    _say(page, "收到的杯子碎了", "照片")
    page.set_input_files(".kefu-wc-file", files=[{"name": "broken.png", "mimeType": "image/png",
                                                 "buffer": _png()}])
    expect(page.locator(".kefu-wc-bot .kefu-wc-bubble", has_text="已收到1张照片")).to_be_visible()
    _say(page, "好了", re.compile(r"AS\d{8}"))
    reply = page.locator(".kefu-wc-bot .kefu-wc-bubble", has_text=re.compile(r"AS\d{8}")).last.inner_text()
    number = re.search(r"AS\d{8}", reply).group(0)
    assert len(EvidenceStore(make_engine(shop_url)).of_aftersale(number)) == 1

    page.click(".kefu-wc-record-button")  # the 📋 panel
    widget = page.locator("#kefu-webchat")
    expect(widget).to_have_attribute("data-record", "shown")
    item = page.locator(f".kefu-wc-record-item[data-id='{number}']")
    expect(item).to_be_visible()
    expect(item.locator(".kefu-wc-record-status")).to_have_text("已提交，等待审核")
    expect(item.locator(".kefu-wc-record-next")).to_contain_text("审核")
    expect(item).to_contain_text(returnable)
    expect(page.locator(".kefu-wc-input")).to_be_hidden()  # the record stands in for the chat while open

    # another shopper's widget: nothing of this one's record
    stranger = browser.new_page(locale="zh-CN")
    _open_widget(stranger, demo)
    stranger.click(".kefu-wc-record-button")
    expect(stranger.locator("#kefu-webchat")).to_have_attribute("data-record", "unproven")
    expect(stranger.locator(".kefu-wc-record-prove")).to_be_visible()
    assert number not in stranger.locator(".kefu-wc-record").inner_text()
    stranger.close()

    event = {"id": f"evt-{uuid.uuid4().hex[:12]}", "type": "refund.completed", "order_id": returnable,
             "data": {"aftersale_id": number, "amount_cents": 49900}}
    assert httpx.post(f"{desk.url}/shop/events", timeout=15, **signed(event)).status_code == 202
    # the panel, left open, shows the new status by itself
    expect(item.locator(".kefu-wc-record-status")).to_have_text("已退款")
    expect(item.locator(".kefu-wc-record-next")).to_contain_text("499.00")
    page.click(".kefu-wc-record-back")
    expect(page.locator(".kefu-wc-bot .kefu-wc-bubble", has_text="退款 ¥499.00 已原路退回")).to_be_visible()
    page.close()

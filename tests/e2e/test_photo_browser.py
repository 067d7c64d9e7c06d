"""Photo evidence from the web widget, in a real browser: a shopper asks for
a return of a broken item, the form asks for photos, the shopper picks one
with the 📎 button and pastes another into the input, the bot confirms each,
"好了" submits, and the request in the database carries both photos. What
cannot be a photo is stopped in the page or refused politely by the server.
A shop page of another origin, embedding the widget, uploads through CORS.
Real Rasa, action server and database; headless Chromium."""
from __future__ import annotations

import base64
import http.server
import io
import re
import threading
from pathlib import Path

import pytest
from PIL import Image

from channels.webchat import session_id_for
from kefu.store.db import make_engine
from kefu.store.evidence import EvidenceStore
from tests.conftest import MODEL, free_port, start_kefu

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
expect.set_options(timeout=30_000)  # servers share two cores with the rest of the suite

CREDENTIALS = """channels.rest.ReliableRestInput:
channels.webchat.WebChatInput:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
  cors_allowed_origins: {origins}
"""


@pytest.fixture(scope="module")
def shop_port() -> int:
    """Where the shop's own page is served: another origin than Kefu's, on
    the loopback like it (Chromium lets no public page reach the loopback)."""
    return free_port()


@pytest.fixture(scope="module")
def web(shop_url, tmp_path_factory, shop_port):
    """Kefu with the widget on its demo page and on the shop's page, photos
    kept in a directory of this test's."""
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train`")
    rasa_port = free_port()
    origins = f"http://127.0.0.1:{rasa_port},http://127.0.0.1:{shop_port}"
    evidence = tmp_path_factory.mktemp("evidence")
    servers = start_kefu(tmp_path_factory.mktemp("photo-browser"), shop_url, CREDENTIALS.format(origins=origins),
                         env={"REDIS_URL": "", "KEFU_EVIDENCE_DIR": str(evidence)}, rasa_port=rasa_port)
    yield servers
    servers.stop()


@pytest.fixture
def shop_page(web, shop_port):
    """The shop's page of its own origin, embedding the widget with its one
    script tag."""
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body>'
            f'<h1>The shop</h1><script src="{web.rasa_url}/webchat/widget.js" data-server="{web.rasa_url}" '
            f'data-lang="en"></script></body></html>').encode("utf-8")

    class ShopPage(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", shop_port), ShopPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{shop_port}/"
    server.shutdown()
    server.server_close()


def _png(colour: tuple) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), colour).save(out, "PNG")
    return out.getvalue()


def _say(page, text: str, expect_text) -> None:
    page.fill(".kefu-wc-input", text)
    page.click(".kefu-wc-send")
    expect(page.locator(".kefu-wc-bot .kefu-wc-bubble", has_text=expect_text).last).to_be_visible()


def _paste_image(page, data: bytes, name: str) -> None:
    """What pasting a copied picture does: a paste event on the input whose
    clipboard holds an image file (headless Chromium has no clipboard to
    copy into, so the event is made with the file in it)."""
    page.evaluate("""([b64, name]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const clipboard = new DataTransfer();
        clipboard.items.add(new File([bytes], name, {type: 'image/png'}));
        const input = document.querySelector('.kefu-wc-input');
        input.dispatchEvent(new ClipboardEvent('paste', {clipboardData: clipboard, bubbles: true, cancelable: true}));
    }""", [base64.b64encode(data).decode("ascii"), name])


def test_a_return_of_a_broken_item_carries_the_photos_sent_from_the_widget(web, browser, shop_url, returnable,
                                                                          tmp_path: Path):
    page = browser.new_page(locale="zh-CN")
    page.goto(f"{web.rasa_url}/webchat/demo")
    page.click(".kefu-wc-launcher")
    expect(page.locator("#kefu-webchat")).to_have_attribute("data-connection", "online")
    attach = page.locator(".kefu-wc-attach")
    expect(attach).to_be_visible()
    expect(attach).to_have_attribute("aria-label", "发送图片")
    expect(page.locator(".kefu-wc-file")).to_have_attribute("accept", "image/jpeg,image/png,image/webp,image/gif")

    _say(page, "我要退货", "订单号")
    expect(page.locator("#kefu-webchat")).to_have_attribute("data-session", "confirmed")
    _say(page, returnable, "后4位")
    _say(page, "5678", "原因")
    _say(page, "收到的杯子碎了", "照片")  # a broken item: the form asks for photos
    conversation = f"web:{session_id_for(page.evaluate('() => window.KefuWebchat.sessionToken()'))}"
    evidence = EvidenceStore(make_engine(shop_url))

    # stopped in the page: not a picture type, or bigger than the server takes
    page.set_input_files(".kefu-wc-file", files=[{"name": "notes.txt", "mimeType": "text/plain",
                                                 "buffer": b"not a photo"}])
    expect(page.locator(".kefu-wc-notice .kefu-wc-bubble", has_text="只能发送JPG")).to_be_visible()
    too_big = page.evaluate("() => window.KefuWebchat.maxPhotoBytes") + 1
    page.set_input_files(".kefu-wc-file", files=[{"name": "huge.jpg", "mimeType": "image/jpeg",
                                                 "buffer": b"\xff\xd8\xff" + b"\0" * too_big}])
    expect(page.locator(".kefu-wc-notice .kefu-wc-bubble", has_text="太大")).to_be_visible()
    # refused by the server, which reads the bytes: its polite text is shown
    page.set_input_files(".kefu-wc-file", files=[{"name": "fake.png", "mimeType": "image/png",
                                                 "buffer": b"\x89PNG\r\n\x1a\n but not a picture"}])
    expect(page.locator(".kefu-wc-notice .kefu-wc-bubble", has_text="不是能查看的照片")).to_be_visible()
    expect(page.locator(".kefu-wc-user.kefu-wc-failed")).to_have_count(1)  # its bubble: marked as not sent
    assert evidence.of_conversation(conversation) == []
    sent = page.locator(".kefu-wc-user:not(.kefu-wc-failed) .kefu-wc-photo")

    # the 📎 button's file picker
    photo = tmp_path / "broken-cup.png"
    photo.write_bytes(_png((200, 40, 40)))
    with page.expect_file_chooser() as chooser:
        attach.click()
    chooser.value.set_files(str(photo))
    preview = sent.last
    expect(preview).to_be_visible()
    assert preview.evaluate("img => img.naturalWidth") == 400  # the picture itself, shown from the page
    expect(page.locator(".kefu-wc-bot .kefu-wc-bubble", has_text="已收到1张照片")).to_be_visible()

    # a picture pasted into the input
    _paste_image(page, _png((40, 40, 200)), "pasted.png")
    expect(sent).to_have_count(2)
    expect(page.locator(".kefu-wc-bot .kefu-wc-bubble", has_text="已收到2张照片")).to_be_visible()
    assert page.locator(".kefu-wc-input").input_value() == ""

    _say(page, "好了", re.compile(r"AS\d{8}"))
    reply = page.locator(".kefu-wc-bot .kefu-wc-bubble", has_text=re.compile(r"AS\d{8}")).last.inner_text()
    number = re.search(r"AS\d{8}", reply).group(0)
    expect(page.locator(".kefu-wc-bot .kefu-wc-bubble", has_text="已附上2张照片")).to_be_visible()
    kept = evidence.of_aftersale(number)
    assert len(kept) == 2 and {e.channel for e in kept} == {"webchat"}
    assert {e.id for e in kept} == {e.id for e in evidence.of_conversation(conversation)}

    page.reload()  # the transcript comes back; a photo's preview does not, its label does
    expect(page.locator(".kefu-wc-user:not(.kefu-wc-failed) .kefu-wc-bubble", has_text="📷 照片")).to_have_count(2)
    expect(page.locator(".kefu-wc-user.kefu-wc-failed")).to_have_count(1)
    page.close()


def test_a_shop_page_of_another_origin_uploads_through_cors(web, browser, shop_page, shop_url):
    page = browser.new_page(locale="en-US")
    page.goto(shop_page)
    page.click(".kefu-wc-launcher")
    expect(page.locator("#kefu-webchat")).to_have_attribute("data-session", "confirmed")
    expect(page.locator(".kefu-wc-attach")).to_have_attribute("aria-label", "Send a photo")
    with page.expect_response(lambda r: r.url.endswith("/webhooks/webchat/photo") and r.request.method == "POST") \
            as uploaded:
        page.set_input_files(".kefu-wc-file", files=[{"name": "label.png", "mimeType": "image/png",
                                                     "buffer": _png((20, 160, 60))}])
    assert uploaded.value.status == 200  # the browser's preflight passed, and the answer may be read
    assert uploaded.value.headers["access-control-allow-origin"] == shop_page.rstrip("/")
    expect(page.locator(".kefu-wc-user .kefu-wc-photo")).to_be_visible()
    expect(page.locator(".kefu-wc-bot .kefu-wc-bubble", has_text=re.compile("照片收到|photo"))).to_be_visible()
    conversation = f"web:{session_id_for(page.evaluate('() => window.KefuWebchat.sessionToken()'))}"
    [kept] = EvidenceStore(make_engine(shop_url)).of_conversation(conversation)
    assert kept.channel == "webchat" and (kept.width, kept.height) == (400, 300)
    page.close()

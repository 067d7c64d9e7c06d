"""The shopper's photos in the desk, over the wire: the real desk app and
database, photos recorded by the real intake into a local storage
directory, the desk's own settings (``KEFU_EVIDENCE_*``). An agent sees the
photos of the chats they may see, with signed links that open a photo only
with a desk session, for that photo and variant, for minutes; nobody else
gets a byte."""
from __future__ import annotations

import io
import re
import secrets
import time

import httpx
import pytest
from PIL import Image

from kefu.core.config import load_settings
from kefu.evidence import links
from kefu.evidence.intake import Intake, build
from kefu.store.shop import ShopStore
from tests.conftest import launch_chromium
from tests.desk.conftest import PASSWORD, wait_for

#: the link key the desk signs with in these tests, so that a test can forge as an attacker would not
LINK_KEY = "desk-test-evidence-link-key-0123456789"
LINK_SECONDS = 300
#: 张三's delivered dress in the demo shop: a return can be asked for it
RETURNABLE = "2611010000000003"
MINE, THEIRS, NOBODYS = "wx-photos-mine", "wx-photos-theirs", "wx-photos-nobody"


@pytest.fixture(autouse=True)
def evidence_settings(monkeypatch, tmp_path):
    """The desk reads its evidence options from the settings when its app is
    made (the ``desk`` fixture): point them at a directory of this test's."""
    monkeypatch.setenv("KEFU_EVIDENCE_STORAGE", "local")
    monkeypatch.setenv("KEFU_EVIDENCE_DIR", str(tmp_path / "evidence"))
    monkeypatch.setenv("KEFU_EVIDENCE_LINK_SECONDS", str(LINK_SECONDS))
    monkeypatch.setenv("KEFU_EVIDENCE_LINK_KEY", LINK_KEY)
    return tmp_path / "evidence"


@pytest.fixture
def intake(desk_url, evidence_settings) -> Intake:
    """The connectors' intake, as the settings make it."""
    return build(load_settings().evidence, desk_url)


def jpeg(colour=(200, 30, 30), size=(640, 480)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, colour)
    image.paste((250, 250, 250), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    image.save(out, "JPEG")
    return out.getvalue()


def png(colour=(20, 120, 200), size=(300, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def chats(client, make_agent, desk_store):
    """li and wang, paused; li has MINE, wang has THEIRS. Their clients and the handoff ids."""
    make_agent("li", "小李")
    make_agent("wang", "小王")
    a, b = client("li"), client("wang")
    for c in (a, b):
        assert c.post("/api/presence", json={"online": False}).status_code == 200
    desk_store.queue_handoff(MINE, "wechat", "complaint", {"intents": ["complain"]}, language="zh")
    mine = desk_store.active_handoff(MINE).id
    assert a.post(f"/api/handoffs/{mine}/claim").status_code == 200
    desk_store.queue_handoff(THEIRS, "wechat", "complaint", {"intents": ["complain"]}, language="zh")
    theirs = desk_store.active_handoff(THEIRS).id
    assert b.post(f"/api/handoffs/{theirs}/claim").status_code == 200
    return a, b, mine, theirs


def link_parts(link: str):
    url = httpx.URL(link)
    _, prefix, evidence_id, variant = url.path.split("/")
    assert prefix == "evidence"
    return evidence_id, variant, url.params["expires"], url.params["sig"]


def test_the_detail_lists_the_photos_and_the_links_serve_them(client, make_agent, desk_store, intake):
    a, _, mine, _ = chats(client, make_agent, desk_store)
    first = intake.receive(MINE, "wechat", jpeg())
    second = intake.receive(MINE, "wechat", png())
    before = int(time.time())
    photos = a.get(f"/api/handoffs/{mine}").json()["photos"]
    assert [p["id"] for p in photos] == [first.evidence_id, second.evidence_id]  # oldest first
    by_id = {p["id"]: p for p in photos}
    one = by_id[first.evidence_id]
    assert (one["content_type"], one["width"], one["height"]) == ("image/jpeg", 640, 480)
    assert one["aftersale_id"] is None and one["ticket_id"] is None and one["created_at"][:4].isdigit()
    assert by_id[second.evidence_id]["content_type"] == "image/png"
    for photo in photos:
        view = intake.store.get(photo["id"])
        assert photo["size"] == view.size
        for variant, key in (("thumb", view.thumbnail_key), ("full", view.storage_key)):
            evidence_id, in_link, expires, _ = link_parts(photo[variant])
            assert (evidence_id, in_link) == (photo["id"], variant)
            assert before + LINK_SECONDS <= int(expires) <= int(time.time()) + LINK_SECONDS
            response = a.get(photo[variant])
            assert response.status_code == 200, response.text
            assert response.content == intake.storage.get(key)
            wanted = "image/jpeg" if variant == "thumb" else photo["content_type"]
            assert response.headers["content-type"] == wanted
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["content-security-policy"] == "default-src 'none'"
            assert response.headers["content-disposition"] == "inline"
            cache, max_age = response.headers["cache-control"].split(", max-age=")
            assert cache == "private" and 0 < int(max_age) <= LINK_SECONDS
            assert int(max_age) >= int(expires) - int(time.time()) - 1
    thumb = Image.open(io.BytesIO(a.get(one["thumb"]).content))
    assert thumb.format == "JPEG" and max(thumb.size) <= 320
    # the audit shows the look at the conversation, as before
    assert (desk_store.audit_entries()[0].action, desk_store.audit_entries()[0].target) == (
        "view_conversation", f"handoff:{mine}")


def test_a_photo_needs_a_desk_session(client, make_agent, desk_store, intake):
    a, _, mine, _ = chats(client, make_agent, desk_store)
    intake.receive(MINE, "wechat", jpeg())
    photo = a.get(f"/api/handoffs/{mine}").json()["photos"][0]
    for link in (photo["thumb"], photo["full"]):
        anonymous = client().get(link)
        assert anonymous.status_code == 401 and anonymous.json() == {"error": "login_required"}
        assert anonymous.headers["cache-control"] == "no-store"
        forged_cookie = client().get(link, cookies={"kefu_desk_session": secrets.token_urlsafe(32)})
        assert forged_cookie.status_code == 401
    assert a.post("/api/logout").status_code == 200
    assert a.get(photo["thumb"]).status_code == 401  # the link outlives the session: it opens nothing


def test_a_bad_expired_or_borrowed_link_is_refused(client, make_agent, desk_store, intake):
    a, _, mine, _ = chats(client, make_agent, desk_store)
    first = intake.receive(MINE, "wechat", jpeg()).evidence_id
    second = intake.receive(MINE, "wechat", jpeg((10, 200, 10))).evidence_id
    photo = a.get(f"/api/handoffs/{mine}").json()["photos"][0]
    evidence_id, _, expires, sig = link_parts(photo["thumb"])
    assert evidence_id == first
    now = time.time()
    tampered = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    refused = {
        "tampered signature": f"/evidence/{first}/thumb?expires={expires}&sig={tampered}",
        "no signature": f"/evidence/{first}/thumb?expires={expires}",
        "no expiry": f"/evidence/{first}/thumb?sig={sig}",
        "a later expiry": f"/evidence/{first}/thumb?expires={int(expires) + 1}&sig={sig}",
        "the other variant": f"/evidence/{first}/full?expires={expires}&sig={sig}",
        "another photo": f"/evidence/{second}/thumb?expires={expires}&sig={sig}",
        "expired": links.link(first, "thumb", now - 2 * LINK_SECONDS, LINK_SECONDS, LINK_KEY),
        "just expired": links.link(first, "full", now - LINK_SECONDS - 1, LINK_SECONDS, LINK_KEY),
        "longer than links live": links.link(first, "thumb", now, LINK_SECONDS + 3600, LINK_KEY),
        "another key": links.link(first, "thumb", now, LINK_SECONDS, "some-other-key-0123456789"),
    }
    for what, link in refused.items():
        response = a.get(link)
        assert response.status_code == 403, what
        assert response.json() == {"error": "bad_link"} and "image" not in response.headers["content-type"], what
    assert a.get(photo["thumb"]).status_code == 200  # the genuine link still opens


def test_only_the_photos_of_a_chat_the_agent_may_see(client, make_agent, desk_store, intake):
    a, b, mine, theirs = chats(client, make_agent, desk_store)
    own = intake.receive(MINE, "wechat", jpeg()).evidence_id
    other = intake.receive(THEIRS, "wechat", jpeg((0, 0, 255))).evidence_id
    intake.receive(NOBODYS, "web", jpeg((0, 255, 0)))  # a conversation with no handoff at all
    assert [p["id"] for p in a.get(f"/api/handoffs/{mine}").json()["photos"]] == [own]
    refused = a.get(f"/api/handoffs/{theirs}")
    assert refused.status_code == 403 and "photos" not in refused.json()
    assert [p["id"] for p in b.get(f"/api/handoffs/{theirs}").json()["photos"]] == [other]
    # a waiting chat is everyone's to look at, its photos too
    desk_store.queue_handoff("wx-photos-waiting", "wechat", "requested", "s")
    waiting = desk_store.active_handoff("wx-photos-waiting").id
    assert a.get(f"/api/handoffs/{waiting}").json()["photos"] == []
    shared = intake.receive("wx-photos-waiting", "wechat", png()).evidence_id
    assert [p["id"] for p in b.get(f"/api/handoffs/{waiting}").json()["photos"]] == [shared]


def test_an_unknown_or_lost_photo_is_404(client, make_agent, desk_store, intake, evidence_settings):
    a, _, mine, _ = chats(client, make_agent, desk_store)
    now = time.time()
    unknown = secrets.token_hex(16)
    assert a.get(links.link(unknown, "thumb", now, LINK_SECONDS, LINK_KEY)).status_code == 404
    assert a.get(f"/evidence/{unknown[:-1]}/thumb?expires=1&sig=0").status_code == 404  # no photo id
    assert a.get(f"/evidence/{unknown}/original?expires=1&sig=0").status_code == 404  # no such variant
    kept = intake.receive(MINE, "wechat", jpeg()).evidence_id
    photo = a.get(f"/api/handoffs/{mine}").json()["photos"][0]
    assert photo["id"] == kept
    (evidence_settings / intake.store.get(kept).storage_key).unlink()  # the file is gone from the storage
    assert a.get(photo["full"]).status_code == 404
    assert a.get(photo["thumb"]).status_code == 200  # its thumbnail is still there


def test_the_request_a_photo_supports_is_shown(client, make_agent, desk_store, intake):
    a, _, mine, _ = chats(client, make_agent, desk_store)
    intake.receive(MINE, "wechat", jpeg())
    request = ShopStore(intake.store.engine).create_aftersale(RETURNABLE, "return", "杯子碎了", evidence_of=MINE)
    later = intake.receive(MINE, "wechat", png()).evidence_id  # after the request: waiting for the next one
    photos = a.get(f"/api/handoffs/{mine}").json()["photos"]
    assert [(p["aftersale_id"], p["ticket_id"]) for p in photos] == [(request, None), (None, None)]
    assert photos[1]["id"] == later


# -- in the browser ---------------------------------------------------------------------------------


@pytest.fixture
def page():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(locale="zh-CN")
        page.set_default_timeout(10_000)
        yield page
        browser.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_agent_sees_the_thumbnails_and_opens_a_photo(page, desk, desk_store, make_agent, intake):
    from playwright.sync_api import expect

    make_agent("li", "小李")
    intake.receive(MINE, "wechat", jpeg())
    intake.receive(MINE, "wechat", png())
    page.goto(desk.url)
    page.fill("#username", "li")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    expect(page.locator("#me")).to_contain_text("小李")
    page.uncheck("#online")
    wait_for(lambda: not desk_store.agents()[0].online)  # paused before the chat comes: it waits to be opened
    desk_store.queue_handoff(MINE, "wechat", "complaint", {"intents": ["complain"]}, language="zh")
    page.locator("#waiting li[data-id]").first.click()
    thumbs = page.locator("#photos img")
    expect(thumbs).to_have_count(2)
    expect(thumbs.first).to_have_attribute("alt", re.compile(r"^顾客照片 1 Shopper photo 1 · "))
    expect(thumbs.first).to_have_attribute("loading", "lazy")
    for n in range(2):
        thumbs.nth(n).scroll_into_view_if_needed()
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumbs.nth(n).element_handle())
    assert thumbs.first.evaluate("(img) => img.naturalWidth") == 320  # the thumbnail, not the photo

    page.locator("#photos button.photo").nth(1).click()
    viewer = page.locator("#photo-viewer")
    expect(viewer).to_be_visible()
    full = page.locator("#photo-full")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=full.element_handle())
    assert full.evaluate("(img) => [img.naturalWidth, img.naturalHeight]") == [300, 200]
    assert "/full?" in (page.locator("#photo-open").get_attribute("href") or "")
    expect(page.locator("#photo-caption")).to_contain_text("300×200")
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()

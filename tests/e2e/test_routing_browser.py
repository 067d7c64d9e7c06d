"""A VIP overtakes a regular shopper, in real browsers: a regular shopper on
the widget asks for a person first, then 李四 (a VIP of the demo shop)
proves his order on another widget and asks too. The desk lists the VIP
first with the tier shown; the one agent, with room for one chat, gets the
VIP's when they start taking chats, and the regular shopper keeps waiting;
the VIP's summary explains the routing. Real Rasa, action server, desk and
database; headless Chromium."""
from __future__ import annotations

import uuid

import pytest

from channels.webchat import session_id_for
from kefu.core.secrets import secret
from kefu.desk.app import create_app
from kefu.desk.settings import DeskSettings
from kefu.store.db import make_engine
from kefu.store.desk import DeskStore
from tests.desk.conftest import PASSWORD, ServedApp, wait_for

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
expect.set_options(timeout=30_000)  # servers share two cores with the rest of the suite

VIP_ORDER = "2611010000000007"  # 李四's, the last 4 digits of his phone are 1234


@pytest.fixture
def desk(kefu, shop_url):
    app = ServedApp(create_app(DeskSettings(database_url=shop_url, rasa_url=kefu.rasa_url, poll_seconds=0.3,
                                            rasa_jwt_secret=secret("rasa_jwt_secret"))))
    yield app
    app.stop()


def _widget(browser, url: str):
    page = browser.new_page(locale="zh-CN")
    page.set_default_timeout(60_000)
    page.goto(url)
    page.click(".kefu-wc-launcher")
    expect(page.locator("#kefu-webchat")).to_have_attribute("data-connection", "online")
    return page


def _say(page, text: str, answer: str) -> None:
    page.fill(".kefu-wc-input", text)
    page.click(".kefu-wc-send")
    expect(page.locator(".kefu-wc-bot .kefu-wc-bubble", has_text=answer).last).to_be_visible()


def _handoff(store: DeskStore, page):
    token = page.evaluate("() => window.KefuWebchat.sessionToken()")
    handoff = store.active_handoff(f"web:{session_id_for(token)}")
    assert handoff is not None and handoff.status == "waiting"
    return handoff


def test_a_vip_overtakes_a_regular_shopper_in_the_queue(kefu, desk, shop_url, browser):
    store = DeskStore(make_engine(shop_url))
    username = f"v{uuid.uuid4().hex[:8]}"
    agent_id = store.add_agent(username, "小赵", PASSWORD, max_concurrent=1)  # serves every group
    agent = browser.new_page(locale="zh-CN")
    agent.set_default_timeout(20_000)
    agent.goto(desk.url)
    agent.fill("#username", username)
    agent.fill("#password", PASSWORD)
    agent.click("#login-button")
    expect(agent.locator("#me")).to_contain_text("小赵")
    agent.uncheck("#online")
    wait_for(lambda: not store.agent(agent_id).online)
    try:
        regular = _widget(browser, f"{kefu.rasa_url}/webchat/demo")
        _say(regular, "我要转人工", "转接人工客服")
        first = _handoff(store, regular)

        vip = _widget(browser, f"{kefu.rasa_url}/webchat/demo")
        _say(vip, "我的订单到哪了", "订单号")
        _say(vip, VIP_ORDER, "后4位")
        _say(vip, "1234", VIP_ORDER)
        _say(vip, "我要转人工", "转接人工客服")
        second = _handoff(store, vip)
        assert (second.tier, second.priority, first.tier) == ("vip", 1, "regular")

        # the desk lists the VIP ahead of the shopper who came first, with the tier shown
        ours = agent.locator(f'#waiting li[data-id="{first.id}"], #waiting li[data-id="{second.id}"]')
        expect(ours).to_have_count(2)
        expect(ours.first).to_have_attribute("data-id", str(second.id))
        expect(ours.first.locator(".tier")).to_have_text("VIP")

        for other in store.agents():  # the shop is shared: nobody an earlier test left online takes these chats
            if other.id != agent_id and other.online:
                store.set_online(other.id, False)
        agent.check("#online")  # room for one chat: the VIP's
        expect(agent.locator(f'#mine li[data-id="{second.id}"]')).to_be_visible()
        expect(agent.locator(f'#waiting li[data-id="{first.id}"]')).to_be_visible()
        assert store.handoff(first.id).status == "waiting"

        agent.locator(f'#mine li[data-id="{second.id}"]').click()
        summary = agent.locator("#summary")
        expect(summary).to_contain_text("VIP")
        expect(summary).to_contain_text("客户等级 VIP")  # the routing note says why
        expect(agent.locator("#transcript")).to_contain_text("我要转人工")
    finally:
        store.set_online(agent_id, False)  # later tests' chats are not this agent's

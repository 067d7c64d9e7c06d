"""The whole handoff in real browsers: a shopper on the web widget asks for a
person, an agent logs in on the desk, claims the chat and answers, the
shopper sees the answer, the agent resolves, the shopper is asked for a
rating. Real Rasa, action server, desk and database; headless Chromium."""
from __future__ import annotations

import uuid

import pytest

from channels.webchat import session_id_for
from kefu.core.secrets import secret
from kefu.desk.app import create_app
from kefu.desk.settings import DeskSettings
from kefu.store.db import make_engine
from kefu.store.desk import DeskStore
from tests.desk.conftest import PASSWORD, ServedApp

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect
expect.set_options(timeout=30_000)  # servers share two cores with the rest of the suite


@pytest.fixture
def desk(kefu, shop_url):
    app = ServedApp(create_app(DeskSettings(database_url=shop_url, rasa_url=kefu.rasa_url, poll_seconds=0.3,
                                            rasa_jwt_secret=secret("rasa_jwt_secret"))))
    yield app
    app.stop()


def test_shopper_asks_for_a_person_agent_answers_and_hands_back(kefu, desk, shop_url, browser):
    username = f"a{uuid.uuid4().hex[:8]}"
    store = DeskStore(make_engine(shop_url))
    store.add_agent(username, "小王", PASSWORD)

    agent = browser.new_page(locale="zh-CN")
    agent.set_default_timeout(20_000)
    agent.goto(desk.url)
    agent.fill("#username", username)
    agent.fill("#password", PASSWORD)
    agent.click("#login-button")
    expect(agent.locator("#me")).to_contain_text("小王")
    agent.uncheck("#online")  # not taking chats automatically: this one is claimed by hand

    shopper = browser.new_page(locale="zh-CN")
    shopper.set_default_timeout(60_000)
    shopper.goto(f"{kefu.rasa_url}/webchat/demo")
    shopper.click(".kefu-wc-launcher")
    expect(shopper.locator("#kefu-webchat")).to_have_attribute("data-connection", "online")

    def say(text: str) -> None:
        shopper.fill(".kefu-wc-input", text)
        shopper.click(".kefu-wc-send")

    bot = shopper.locator(".kefu-wc-bot .kefu-wc-bubble")
    say("我要转人工")
    expect(bot.filter(has_text="转接人工客服")).to_be_visible()

    token = shopper.evaluate("() => window.KefuWebchat.sessionToken()")
    handoff = store.active_handoff(f"web:{session_id_for(token)}")
    assert handoff is not None and handoff.status == "waiting"
    waiting = agent.locator(f'#waiting li[data-id="{handoff.id}"]')
    expect(waiting).to_be_visible()  # appeared live
    waiting.click()
    expect(agent.locator("#transcript")).to_contain_text("我要转人工")
    agent.click("#claim")
    expect(agent.locator(f'#mine li[data-id="{handoff.id}"]')).to_be_visible()

    agent.fill("#reply-text", "您好，我是人工客服小王，请问有什么可以帮您？")
    agent.click("#send")
    expect(bot.filter(has_text="人工客服小王")).to_be_visible()  # pushed to the open page

    answers_so_far = bot.count()
    say("我的快递三天没动了")
    expect(agent.locator("#transcript")).to_contain_text("三天没动了")  # the agent sees it
    shopper.wait_for_timeout(1500)
    assert bot.count() == answers_so_far  # and the bot stayed silent

    agent.click("#resolve")
    expect(bot.filter(has_text="打个分")).to_be_visible()  # the bot is back and asks for a rating
    say("5分")
    expect(bot.filter(has_text="感谢您的评价")).to_be_visible()

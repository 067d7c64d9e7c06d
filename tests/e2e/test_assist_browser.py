"""Suggested replies in real browsers: a shopper on the widget asks for a
person, then asks an FAQ question; the agent holding the chat sees the
bot's answer among the suggestions, inserts it with one click, edits
nothing and sends it with Ctrl+Enter; the shopper reads it in the widget,
and the desk records it as used. Real Rasa, action server, desk and
database; headless Chromium."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

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


def test_the_agent_sends_the_suggested_answer_and_the_shopper_reads_it(kefu, desk, shop_url, browser):
    username = f"s{uuid.uuid4().hex[:8]}"
    store = DeskStore(make_engine(shop_url))
    store.add_agent(username, "小推", PASSWORD)
    for agent in store.agents():  # agents of other tests take no chats: this one claims it
        store.set_online(agent.id, False)

    agent = browser.new_page(locale="zh-CN")
    agent.set_default_timeout(20_000)
    agent.goto(desk.url)
    agent.fill("#username", username)
    agent.fill("#password", PASSWORD)
    agent.click("#login-button")
    expect(agent.locator("#me")).to_contain_text("小推")
    agent.uncheck("#online")

    shopper = browser.new_page(locale="zh-CN")
    shopper.set_default_timeout(60_000)
    shopper.goto(f"{kefu.rasa_url}/webchat/demo")
    shopper.click(".kefu-wc-launcher")
    expect(shopper.locator("#kefu-webchat")).to_have_attribute("data-connection", "online")
    bot = shopper.locator(".kefu-wc-bot .kefu-wc-bubble")

    def say(words: str) -> None:
        shopper.fill(".kefu-wc-input", words)
        shopper.click(".kefu-wc-send")

    say("我要转人工")
    expect(bot.filter(has_text="转接人工客服")).to_be_visible()
    handoff = store.active_handoff(f"web:{session_id_for(shopper.evaluate('() => window.KefuWebchat.sessionToken()'))}")
    agent.locator(f'#waiting li[data-id="{handoff.id}"]').click()
    agent.click("#claim")
    expect(agent.locator(f'#mine li[data-id="{handoff.id}"]')).to_be_visible()

    say("你们支持七天无理由退货吗")
    expect(agent.locator("#transcript")).to_contain_text("七天无理由")
    suggestion = agent.locator('#suggestion-list .suggestion[data-kind="answer"]').first
    expect(suggestion).to_be_visible()
    answer = suggestion.locator(".text").inner_text()
    assert "7" in answer or "七天" in answer
    suggestion.click()  # one click puts it in the reply box, for editing
    expect(agent.locator("#reply-text")).to_have_value(answer)
    agent.locator("#reply-text").press("Control+Enter")  # a key sends it
    expect(bot.filter(has_text=answer[:20])).to_be_visible()  # the shopper reads it in the widget
    expect(agent.locator("#suggestions")).to_be_hidden()  # answered: no suggestions until the next message
    with make_engine(shop_url).connect() as db:
        outcomes = db.execute(text("select kind, outcome from assist_outcomes where handoff_id = :h"),
                              {"h": handoff.id}).all()
    assert [tuple(o) for o in outcomes] == [("answer", "used")]
    agent.click("#resolve")
    expect(bot.filter(has_text="打个分")).to_be_visible()
    for other in store.agents():  # this agent logged in: paused again for the tests that follow
        store.set_online(other.id, False)

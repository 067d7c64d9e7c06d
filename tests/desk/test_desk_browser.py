"""The desk page in real headless Chromium: log in, see a queued chat appear
live, claim it, answer, resolve (the fake Rasa records the calls)."""
from __future__ import annotations

import pytest

from tests.conftest import launch_chromium
from tests.desk.conftest import PASSWORD, wait_for

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def page():
    with playwright_api.sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(locale="zh-CN")
        page.set_default_timeout(10_000)
        yield page
        browser.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_agent_claims_answers_and_resolves_in_the_browser(page, desk, desk_store, fake_rasa, make_agent):
    make_agent("li", "小李")
    expect = playwright_api.expect
    page.goto(desk.url)
    page.fill("#username", "li")
    page.fill("#password", "wrong password")
    page.click("#login-button")
    expect(page.locator("#login-error")).to_contain_text("密码错误")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    expect(page.locator("#me")).to_contain_text("小李")
    expect(page.locator("#live")).to_have_class("live on")
    # pause taking chats so that the new one waits in the queue to be claimed
    page.uncheck("#online")
    wait_for(lambda: not desk_store.agents()[0].online)

    fake_rasa.say("tg-42", "user", "我要投诉，快递太慢了")
    desk_store.queue_handoff("tg-42", "telegram", "complaint",
                             {"intents": ["complain"], "order_id": None, "language": "zh"})
    waiting = page.locator("#waiting li[data-id]")
    expect(waiting).to_have_count(1)  # appeared without reloading
    expect(waiting.first).to_contain_text("投诉")
    waiting.first.click()
    expect(page.locator("#transcript")).to_contain_text("快递太慢了")
    page.click("#claim")
    expect(page.locator("#mine li[data-id]")).to_have_count(1)
    expect(page.locator("#chat-status")).to_contain_text("小李")

    page.select_option("#canned", index=1)
    expect(page.locator("#reply-text")).to_have_value("您好，我是人工客服，很高兴为您服务。请问有什么可以帮您？")
    page.fill("#reply-text", "您好，我已催促快递，今天内给您答复")
    page.click("#send")
    expect(page.locator("#transcript li.agent")).to_contain_text("今天内给您答复")
    assert [c["conversation_id"] for c in fake_rasa.executed("action_agent_message")] == ["tg-42"]

    desk_store.add_shopper_message("tg-42", "好的谢谢")  # the shopper's message, pushed live
    fake_rasa.say("tg-42", "user", "好的谢谢")
    expect(page.locator("#transcript")).to_contain_text("好的谢谢")

    page.click("#resolve")
    expect(page.locator("#empty")).to_contain_text("已结束")
    expect(page.locator("#mine li[data-id]")).to_have_count(0)
    assert [c["conversation_id"] for c in fake_rasa.executed("action_handback")] == ["tg-42"]
    assert desk_store.active_handoff("tg-42") is None
    expect(page.locator("#metrics-list")).to_contain_text("已处理 Handled")

"""Attacks 2 and 3: Rasa's HTTP API and the action server are reachable and
trust whoever calls them. Now: Rasa's API answers only a JWT signed with
the desk's secret, sends no CORS to strangers, and listens on 127.0.0.1;
the action server listens on 127.0.0.1 and refuses a call without the
shared secret, so a forged tracker runs no action."""
from __future__ import annotations

import socket
import time

import jwt
import pytest
import requests
from sqlalchemy import create_engine, text

from kefu.desk.rasa import api_token
from tests.conftest import rasa_api
from tests.security.conftest import PAID, SHIPPED, ZHANGSAN_TELEGRAM, unique

pytestmark = pytest.mark.e2e

API_CALLS = [
    ("get", "/conversations/rest:victim/tracker", None),
    ("get", "/conversations/rest:victim/story", None),
    ("post", "/conversations/rest:victim/tracker/events", {"event": "bot", "text": "点击领取退款 http://evil.test"}),
    ("post", "/conversations/rest:victim/execute?output_channel=latest", {"name": "utter_greet"}),
    ("post", "/conversations/rest:victim/trigger_intent?output_channel=latest", {"name": "greet"}),
    ("post", "/conversations/rest:victim/messages", {"text": "hi", "sender": "user"}),
    ("post", "/model/parse", {"text": "hi"}),
    ("get", "/domain", None),
    ("get", "/status", None),
    ("put", "/model", {"model_file": "/tmp/evil.tar.gz"}),
    ("post", "/model/train", {}),
]


def _call(base: str, method: str, path: str, body, headers=None) -> requests.Response:
    return requests.request(method, base + path, json=body, headers=headers or {}, timeout=30)


@pytest.mark.parametrize("method, path, body", API_CALLS)
def test_rasas_api_refuses_callers_without_the_desks_jwt(outsider, method, path, body):
    assert _call(outsider.base, method, path, body).status_code == 401
    assert _call(outsider.base, method, path + ("&" if "?" in path else "?") + "token=anything",
                 body).status_code == 401
    forged = jwt.encode({"user": {"username": "x", "role": "admin"}, "exp": int(time.time()) + 60},
                        "guessed-secret-0123456789", algorithm="HS256")
    assert _call(outsider.base, method, path, body, {"Authorization": f"Bearer {forged}"}).status_code == 401
    expired = api_token(_secret(), now=time.time() - 3600)
    assert _call(outsider.base, method, path, body, {"Authorization": f"Bearer {expired}"}).status_code == 401


def _secret() -> str:
    from kefu.core.secrets import secret

    return secret("rasa_jwt_secret")


def test_the_desks_jwt_opens_it(outsider):
    """The control: the same calls with a fresh JWT work."""
    assert rasa_api().get(f"{outsider.base}/conversations/rest:nobody/tracker", timeout=10).status_code == 200
    assert rasa_api().get(f"{outsider.base}/status", timeout=10).status_code == 200


def test_nothing_can_be_pushed_into_a_shoppers_widget_or_chat_without_it(outsider):
    chat = 777000 + int(time.time()) % 1000
    outsider.telegram(chat, "你好")
    before = len(outsider.tg.texts_to(chat))
    for path in (f"/conversations/telegram:{chat}/execute?output_channel=latest",
                 f"/conversations/telegram:{chat}/tracker/events?output_channel=latest"):
        body = {"name": "utter_greet"} if "execute" in path else {"event": "bot", "text": "钓鱼 http://evil.test"}
        assert _call(outsider.base, "post", path, body).status_code == 401
    time.sleep(1)
    assert len(outsider.tg.texts_to(chat)) == before


def test_no_cors_for_a_strangers_page(outsider):
    reply = requests.get(f"{outsider.base}/webhooks/rest/", headers={"Origin": "https://evil.test"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in reply.headers
    preflight = requests.options(f"{outsider.base}/conversations/rest:x/tracker",
                                 headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "GET"},
                                 timeout=10)
    assert reply.headers.get("Access-Control-Allow-Origin") != "*"
    assert preflight.headers.get("Access-Control-Allow-Origin") in (None, "")


def _forged_call(action: str, sender: str, slots: dict) -> dict:
    return {
        "next_action": action, "sender_id": sender, "version": "3.6.21",
        "tracker": {"sender_id": sender, "slots": {"language": "zh", **slots}, "latest_message": {
            "text": "x", "intent": {"name": "check_order_status"}, "entities": [], "metadata": {}},
            "latest_event_time": time.time(), "events": [], "paused": False, "followup_action": None,
            "active_loop": {}, "latest_action_name": "action_listen"},
        "domain": {"slots": {}, "responses": {}, "forms": {}, "intents": [], "entities": [], "actions": []},
    }


@pytest.mark.parametrize("action, slots", [
    ("action_show_order_status", {"order_id": SHIPPED, "verified_order": SHIPPED, "verified_at": time.time()}),
    ("action_list_my_orders", {}),
    ("action_ticket_status", {"ticket_id": "TK00000001"}),
    ("action_cancel_order", {"order_id": PAID, "verified_order": PAID, "verified_at": time.time(),
                             "cancel_confirmed": True}),
])
def test_a_forged_call_to_the_action_server_runs_nothing(outsider, action, slots):
    url = f"{outsider.servers.action_url}/webhook"
    forged = _forged_call(action, f"telegram:{ZHANGSAN_TELEGRAM}", slots)
    for headers in ({}, {"X-Kefu-Action-Token": "guess"}, {"X-Kefu-Action-Token": ""}):
        reply = requests.post(url, json=forged, headers=headers, timeout=30)
        assert reply.status_code == 403 and SHIPPED not in reply.text and "订单" not in reply.text
    assert requests.get(f"{outsider.servers.action_url}/actions", timeout=10).status_code == 403
    with create_engine(outsider.shop_url).connect() as db:
        status = db.execute(text("select status from orders where id = :i"), {"i": PAID}).scalar()
    assert status == "paid"  # nothing was cancelled


def _external_address() -> str:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent
            address = probe.getsockname()[0]
        except OSError:
            return ""
    return "" if address.startswith("127.") else address


def test_rasa_and_the_action_server_listen_on_loopback_only(outsider):
    address = _external_address()
    if not address:
        pytest.skip("this machine has no non-loopback address to test from")
    for port in (outsider.servers.rasa_port, outsider.servers.action_port):
        with socket.socket() as sock:
            sock.settimeout(2)
            assert sock.connect_ex((address, port)) != 0, f"port {port} answers on {address}"
    with socket.socket() as sock:  # the control: loopback answers
        assert sock.connect_ex(("127.0.0.1", outsider.servers.rasa_port)) == 0


def test_a_conversation_reply_still_works_through_the_guarded_action_server(outsider):
    """The control: Rasa has the token, so the same actions run for it."""
    assert "后4位" in outsider.say(unique("control"), f"查订单{SHIPPED}")

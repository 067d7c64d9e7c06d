"""Attack 4: the 3-attempt lock was per conversation, so rotating senders
found the 4 phone digits of someone else's order. Now wrong proofs count
per order across all conversations and per client address, with a growing
wait, and the digits that prove an order are never printed."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import create_engine, text

from tests.security.conftest import SHIPPED, unique

pytestmark = pytest.mark.e2e


def _seeded_order(outsider, skip: int):
    """(order id, its phone's last 4 digits) of a seeded order no other test uses."""
    with create_engine(outsider.shop_url).connect() as db:
        order_id, phone = db.execute(text(
            "select id, receiver_phone from orders where id not like '26110100000000%' order by id limit 1 offset :n"),
            {"n": skip}).one()
    return order_id, phone[-4:]


def _wrong(right: str, n: int) -> str:
    return f"{(int(right) + 1 + n) % 10000:04d}"


def test_rotating_senders_and_addresses_do_not_buy_guesses_for_an_order(outsider):
    order_id, right = _seeded_order(outsider, 10)
    for n in range(5):
        sender, client = unique("rotating"), f"198.51.100.{n + 10}"
        assert "后4位" in outsider.say(sender, f"查订单{order_id}", client)
        answer = outsider.say(sender, _wrong(right, n), client)
        assert ("对不上" in answer) if n < 4 else ("人工" in answer)  # the fifth locks the order
    sender = unique("rotating")
    locked = outsider.say(sender, f"查订单{order_id}", "198.51.100.99")  # a fresh sender and address
    assert "人工" in locked and "后4位" not in locked  # locked for everyone; a human is offered
    after = outsider.say(sender, right, "198.51.100.99")  # even the right digits show nothing
    assert "收件人" not in after and "Recipient" not in after


def test_one_address_cannot_spray_guesses_across_orders(outsider):
    client = "203.0.113.77"
    for n in range(20):
        order_id, right = _seeded_order(outsider, 30 + n)
        sender = unique("spray")
        outsider.say(sender, f"查订单{order_id}", client)
        outsider.say(sender, _wrong(right, 0), client)
    order_id, right = _seeded_order(outsider, 60)
    sender = unique("spray")
    reply = outsider.say(sender, f"查订单{order_id}", client)
    assert "人工" in reply and "后4位" not in reply  # locked before even asking
    # the control: another address proves the same order
    honest = unique("honest")
    assert "后4位" in outsider.say(honest, f"查订单{order_id}", "192.0.2.10")
    assert order_id in outsider.say(honest, right, "192.0.2.10")


def test_an_x_real_ip_is_believed_only_from_the_proxy(outsider):
    """The servers trust 127.0.0.1 (nginx); the connector reads X-Real-IP
    only from there, so a client elsewhere cannot rotate its address by
    header (kefu.core.ids.client_address)."""
    from kefu.core.ids import client_address

    assert client_address("127.0.0.1", {"X-Real-IP": "1.2.3.4"}, ["127.0.0.1"]) == "1.2.3.4"
    assert client_address("203.0.113.5", {"X-Real-IP": "1.2.3.4"}, ["127.0.0.1"]) == "203.0.113.5"
    assert client_address("172.28.0.9", {"X-Real-IP": "1.2.3.4"}, ["172.28.0.0/16"]) == "1.2.3.4"
    assert client_address("127.0.0.1", {"X-Real-IP": "not an ip"}, ["127.0.0.1"]) == "127.0.0.1"


def test_full_width_digits_prove_an_order_and_replies_never_print_the_proof(outsider):
    sender = unique("ime")
    client = f"192.0.2.{random.randint(100, 200)}"
    assert "后4位" in outsider.say(sender, f"查订单{SHIPPED}", client)
    reply = outsider.say(sender, "５６７８", client)
    assert SHIPPED in reply and "运输中" in reply
    assert "138********" in reply and "5678" not in reply and "13800005678" not in reply

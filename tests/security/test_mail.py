"""Attack 8, e-mail: Reply-To chose who got the shop's reply, whoever knew a
thread's root Message-ID joined the thread with its proof, and nothing
limited the replies to one address. Through the running Kefu, with the
real local IMAP (pymap) and SMTP (aiosmtpd) servers."""
from __future__ import annotations

import time
import uuid

import pytest

from channels.mail.output import MAX_REPLIES_PER_HOUR
from tests.security.conftest import SHIPPED
from tests.support.mail_servers import shopper_mail, text_part

pytestmark = pytest.mark.e2e


def _mid(name: str) -> str:
    return f"<{name}-{uuid.uuid4().hex[:8]}@example.com>"


def _replies_to(outsider, address: str):
    return [m for m in outsider.smtp.messages if m["To"] == address]


def _wait(outsider, count: int, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while len(outsider.smtp.messages) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return outsider.smtp.messages


def test_a_stranger_in_the_thread_gets_a_conversation_of_its_own(outsider):
    start = len(outsider.smtp.messages)
    shopper, attacker = f"zs-{uuid.uuid4().hex[:6]}@example.com", "attacker@evil.test"
    root = _mid("root")
    outsider.imap.deliver(shopper_mail(f"帮我查下订单{SHIPPED}", sender=shopper, message_id=root))
    asked = _wait(outsider, start + 1)[-1]
    assert asked["To"] == shopper and "后4位" in text_part(asked)
    # the attacker knows the shopper's Message-ID (CC'd, forwarded) and answers with the digits
    outsider.imap.deliver(shopper_mail("5678", sender=attacker, subject="Re: 订单咨询", message_id=_mid("evil"),
                                       references=root, in_reply_to=root))
    answer = _wait(outsider, start + 2)[-1]
    assert answer["To"] == attacker
    assert SHIPPED not in text_part(answer) and "运输中" not in text_part(answer)
    # the shopper's own reply to the shop's mail continues the shopper's conversation
    outsider.imap.deliver(shopper_mail("5678", sender=shopper, subject="Re: 订单咨询", message_id=_mid("own"),
                                       references=f"{root} {asked['Message-ID']}", in_reply_to=asked["Message-ID"]))
    status = _wait(outsider, start + 3)[-1]
    assert status["To"] == shopper and SHIPPED in text_part(status) and "运输中" in text_part(status)


def test_reply_to_never_chooses_the_recipient(outsider):
    start = len(outsider.smtp.messages)
    sender = f"real-{uuid.uuid4().hex[:6]}@example.com"
    outsider.imap.deliver(shopper_mail("你好", sender=sender, message_id=_mid("rt"),
                                       headers={"Reply-To": "victim@example.org"}))
    reply = _wait(outsider, start + 1)[-1]
    assert reply["To"] == sender and _replies_to(outsider, "victim@example.org") == []


def test_one_address_gets_a_bounded_number_of_replies(outsider):
    victim = f"flooded-{uuid.uuid4().hex[:6]}@example.org"
    for n in range(MAX_REPLIES_PER_HOUR + 3):
        outsider.imap.deliver(shopper_mail(f"你好 {n}", sender=victim, message_id=_mid(f"flood{n}")))
    deadline = time.monotonic() + 120
    while len(_replies_to(outsider, victim)) < MAX_REPLIES_PER_HOUR and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(3)  # time for the rest to be (not) answered
    assert len(_replies_to(outsider, victim)) == MAX_REPLIES_PER_HOUR

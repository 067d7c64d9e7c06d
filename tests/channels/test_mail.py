"""The e-mail channel: wire-format functions, the connector against a real
IMAP server (pymap) and a real SMTP server (aiosmtpd), and one conversation
through Kefu's real servers."""
from __future__ import annotations

import asyncio
import io
import os
import time
from email import message_from_bytes
from email.header import Header
from email.mime.text import MIMEText
from typing import Any, List

import pytest
from PIL import Image

import channels.mail.channel as mail_channel
from channels.mail import MailInput
from channels.mail.channel import conversation_id
from channels.mail.config import MailConfig
from channels.mail.output import MAX_REPLIES_PER_HOUR
from channels.mail.parse import (
    MAX_PHOTOS_PER_MAIL,
    html_to_text,
    match_option,
    parse_mail,
    reply_subject,
    skip_reason,
    strip_quoted,
)
from channels.mail.render import build_reply, render_reply
from kefu.core.config import EvidenceOptions
from kefu.evidence.intake import PHOTO_TEXT, Intake, build, refusal
from kefu.state import Thread
from kefu.state.sql import SqlChannelState
from kefu.store.db import make_engine, migrate
from kefu.store.evidence import EvidenceStore
from tests.conftest import free_port, start_kefu
from tests.support.mail_servers import (
    IMAP_PASSWORD,
    IMAP_USER,
    ImapServer,
    SmtpServer,
    html_part,
    shopper_mail,
    text_part,
)

SHOPPER = "zhangsan@example.com"
BUTTONS = [
    {"title": "是的", "payload": "/affirm"},
    {"title": "转人工", "payload": "/request_human"},
]


# ------------------------------------------------------------ pure functions


@pytest.mark.parametrize(
    "body, expected",
    [
        ("好的，谢谢\n\n> 您好，请问还有什么可以帮您？\n> 客服", "好的，谢谢"),
        ("5678\n\nOn Mon, 3 Jun 2024 at 10:00, Kefu <kefu@shop.test> wrote:\n> 请告诉我后4位", "5678"),
        ("5678\n\nOn Mon, 3 Jun 2024 at 10:00, Kefu 客服 <kefu@shop.test>\nwrote:\n\n> 后4位", "5678"),
        ("5678\n\n在 2024年6月3日 10:00，客服 <kefu@shop.test> 写道：\n> 请告诉我后4位", "5678"),
        ("please cancel it\n\n-----Original Message-----\nFrom: Kefu\nSent: Monday\n\nold text", "please cancel it"),
        ("帮我退货\n\n发件人: 客服 <kefu@shop.test>\n发送时间: 2024年6月3日\n主题: 订单\n\n旧内容", "帮我退货"),
        ("where is it?\n\nFrom: Kefu <kefu@shop.test>\nSent: Monday, June 3, 2024\nTo: me", "where is it?"),
        ("我的订单到哪了\n-- \n张三\n138 0000 5678", "我的订单到哪了"),
        ("第一行\n第二行\n\n发自我的iPhone", "第一行\n第二行"),
        ("I wrote: something\nOn the other hand, it is late.", "I wrote: something\nOn the other hand, it is late."),
    ],
)
def test_strip_quoted_keeps_only_the_shoppers_new_words(body, expected):
    assert strip_quoted(body) == expected


def test_html_only_mails_become_text_without_the_quoted_mail():
    markup = (
        "<html><head><style>p{color:red}</style></head><body><div>帮我查下订单&nbsp;2611010000000001</div>"
        "<div>谢谢<br>张三</div><blockquote><p>旧邮件 old mail</p></blockquote><script>x()</script></body></html>"
    )
    assert html_to_text(markup) == "帮我查下订单 2611010000000001\n谢谢\n张三"
    raw = shopper_mail("", html=markup, message_id="<h1@example.com>")
    assert parse_mail(raw, IMAP_USER).text == "帮我查下订单 2611010000000001\n谢谢\n张三"


def _headers(**extra: str):
    raw = shopper_mail("hi", message_id="<x@example.com>", headers={k.replace("_", "-"): v for k, v in extra.items()})
    return message_from_bytes(raw)


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({}, None),
        ({"Auto_Submitted": "no"}, None),
        ({"Auto_Submitted": "auto-replied"}, "auto-submitted"),
        ({"Auto_Submitted": "auto-generated"}, "auto-submitted"),
        ({"Precedence": "bulk"}, "precedence"),
        ({"Precedence": "junk"}, "precedence"),
        ({"Precedence": "list"}, "precedence"),
        ({"List_Id": "<news.shop.test>"}, "mailing-list"),
        ({"List_Unsubscribe": "<https://x.test/u>"}, "mailing-list"),
        ({"Return_Path": "<>"}, "bounce"),
        ({"X_Autoreply": "yes"}, "auto-reply"),
        ({"X_Autorespond": "vacation"}, "auto-reply"),
    ],
)
def test_robot_headers_mean_no_reply(headers, reason):
    assert skip_reason(_headers(**headers), IMAP_USER) == reason


@pytest.mark.parametrize(
    "sender, reason",
    [
        ("MAILER-DAEMON@mx.example.com", "bounce"),
        ("Mail Delivery System <postmaster@example.com>", "bounce"),
        (f"Kefu <{IMAP_USER.upper()}>", "self"),
        ("", "no-sender"),
        ("李四 <lisi@example.com>", None),
    ],
)
def test_bounces_and_our_own_mails_mean_no_reply(sender, reason):
    raw = shopper_mail("hi", sender=sender, message_id="<y@example.com>")
    assert skip_reason(message_from_bytes(raw), IMAP_USER) == reason


def test_a_new_conversation_is_keyed_by_its_first_mail_and_its_sender():
    first = conversation_id("<a@x>", SHOPPER).conversation_id
    assert first == conversation_id("<a@x>", SHOPPER).conversation_id
    assert first != conversation_id("<b@x>", SHOPPER).conversation_id
    assert first != conversation_id("<a@x>", "lisi@example.com").conversation_id  # another participant
    assert first.startswith("mail:") and "a@x" not in first and "zhangsan" not in first


@pytest.mark.parametrize(
    "subject, expected",
    [
        ("订单咨询", "Re: 订单咨询"),
        ("Re: 订单咨询", "Re: 订单咨询"),
        ("RE: Re: re:订单咨询", "Re: 订单咨询"),
        ("回复：Re: 订单咨询", "Re: 订单咨询"),
        ("Re[2]: order", "Re: order"),
        ("Regarding my order", "Re: Regarding my order"),
        ("", "Re: 您的咨询 / Your question"),
    ],
)
def test_reply_subject_never_stacks_re(subject, expected):
    assert reply_subject(subject) == expected


def test_chinese_mails_in_legacy_charsets_are_read():
    mail = MIMEText("帮我查下订单2611010000000001", "plain", "gb2312")
    mail["Subject"] = Header("订单咨询", "gb2312").encode()
    mail["From"] = SHOPPER
    mail["Message-ID"] = "<gb@example.com>"
    parsed = parse_mail(mail.as_bytes(), IMAP_USER)
    assert parsed.text == "帮我查下订单2611010000000001"
    assert parsed.subject == "订单咨询"
    assert parsed.sender == SHOPPER and parsed.skip is None


def test_the_reply_goes_to_the_sender_never_to_a_reply_to_address():
    raw = shopper_mail("帮我查订单", message_id="<rt@example.com>", headers={"Reply-To": "victim@example.org"})
    assert parse_mail(raw, IMAP_USER).sender == SHOPPER


def test_a_mail_without_message_id_gets_a_stable_one():
    raw = b"From: a@example.com\r\nSubject: x\r\n\r\nhello\r\n"
    first, second = parse_mail(raw, IMAP_USER), parse_mail(raw, IMAP_USER)
    assert first.message_id == second.message_id != parse_mail(raw + b"!", IMAP_USER).message_id


def test_render_reply_numbers_buttons_across_the_mail_and_escapes_html():
    text, markup, options = render_reply([
        {"text": "请选择 <b>", "buttons": BUTTONS},
        {"text": "还有", "buttons": [{"title": "满意", "payload": '/inform{"rating": "5"}'},
                                     {"title": "帮助中心", "type": "web_url", "url": "https://shop.test/help"}]},
        {"image": "https://shop.test/a.png"},
    ])
    assert "1. 是的\n2. 转人工" in text and "3. 满意" in text
    assert "帮助中心: https://shop.test/help" in text and "https://shop.test/a.png" in text
    assert [o["payload"] for o in options] == ["/affirm", "/request_human", '/inform{"rating": "5"}']
    assert "<li value=\"2\">转人工</li>" in markup and "mailto:" not in markup
    assert '<a href="https://shop.test/help">帮助中心</a>' in markup
    assert '<img src="https://shop.test/a.png"' in markup
    assert "请选择 &lt;b&gt;" in markup and "<b>" not in markup


@pytest.mark.parametrize(
    "reply, payload",
    [("2", "/request_human"), ("２.", "/request_human"), (" 1 \n谢谢", "/affirm"), ("转人工", "/request_human"),
     ("3", None), ("2611010000000001", None), ("我要转人工服务", None), ("", None)],
)
def test_replies_pick_an_option_by_number_or_words(reply, payload):
    assert match_option(reply, BUTTONS) == payload


def test_the_reply_carries_the_thread_and_both_parts():
    thread = Thread("mail:abc", SHOPPER, "Re: 订单咨询", "<m2@example.com>", "<m1@example.com> <m2@example.com>")
    mail, _ = build_reply(IMAP_USER, thread, [{"text": "您好"}])
    assert mail["In-Reply-To"] == "<m2@example.com>"
    assert mail["References"] == "<m1@example.com> <m2@example.com>"
    assert mail["Auto-Submitted"] == "auto-replied" and mail["To"] == SHOPPER
    assert {p.get_content_type() for p in mail.iter_parts()} == {"text/plain", "text/html"}


def test_credentials_from_environment_strings():
    config = MailConfig.from_credentials({
        "address": IMAP_USER, "imap_host": "imap.shop.test", "imap_port": "993", "imap_user": IMAP_USER,
        "imap_password": "imap-secret", "imap_ssl": "true", "smtp_host": "smtp.shop.test", "smtp_port": "587",
        "smtp_user": IMAP_USER, "smtp_password": "smtp-secret", "smtp_starttls": "false", "poll_seconds": "15",
    })
    assert (config.imap_port, config.imap_ssl, config.smtp_starttls, config.poll_seconds) == (993, True, False, 15)
    assert "secret" not in repr(config)  # never logged by accident
    with pytest.raises(ValueError, match="imap_password"):
        MailConfig.from_credentials({"address": IMAP_USER, "imap_host": "h", "imap_user": "u", "smtp_host": "s"})


# --------------------------------------------- connector against real servers


@pytest.fixture(scope="module")
def imap():
    server = ImapServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def state(tmp_path) -> SqlChannelState:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    return SqlChannelState(make_engine(url))


def photo_intake(tmp_path, **options: Any) -> Intake:
    """An intake keeping photos under tmp_path, recording them in the
    test's database (the one ``state`` uses)."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    return build(EvidenceOptions(directory=tmp_path / "evidence", **options), url)


@pytest.fixture(autouse=True)
def evidence(tmp_path, monkeypatch) -> Intake:
    """Every in-process test keeps photos in its own directory and database,
    never in the process's cached intake."""
    taken = photo_intake(tmp_path)
    monkeypatch.setattr(mail_channel, "intake", lambda: taken)
    return taken


@pytest.fixture
def servers(imap, smtp):
    imap.clear()
    smtp.messages.clear()
    smtp.capture.refuse_with = None
    return imap, smtp


def make_channel(imap: ImapServer, smtp_port: int, state: SqlChannelState) -> MailInput:
    config = MailConfig(
        address=IMAP_USER, imap_host="127.0.0.1", imap_port=imap.port, imap_user=IMAP_USER,
        imap_password=IMAP_PASSWORD, imap_ssl=False, smtp_host="127.0.0.1", smtp_port=smtp_port,
        smtp_starttls=False, poll_seconds=0.2,
    )
    return MailInput(config, state=state, retry_delay=0.01)


class Bot:
    """A fake on_new_message: records the user messages and answers each
    with two bot messages (with buttons and an image)."""

    def __init__(self) -> None:
        self.received: List[Any] = []

    async def __call__(self, message) -> None:
        self.received.append(message)
        await message.output_channel.send_response(message.sender_id,
                                                   {"text": f"收到：{message.text}", "buttons": list(BUTTONS)})
        await message.output_channel.send_response(message.sender_id, {"text": "商品图片", "image": "https://shop.test/p.png"})


@pytest.mark.asyncio
async def test_a_thread_of_two_mails_is_one_conversation_answered_in_thread(servers, state):
    imap, smtp = servers
    bot, channel = Bot(), make_channel(imap, smtp.port, state)
    imap.deliver(shopper_mail("帮我查下订单2611010000000001\n-- \n张三", message_id="<m1@example.com>"))
    assert await channel.poll_once(bot) == 1

    (first,) = smtp.messages  # both bot messages of the turn in ONE mail
    assert first["To"] == SHOPPER and first["Subject"] == "Re: 订单咨询"
    assert first["In-Reply-To"] == "<m1@example.com>" and first["References"] == "<m1@example.com>"
    text, markup = text_part(first), html_part(first)
    assert "收到：帮我查下订单2611010000000001" in text and "张三" not in text
    assert "1. 是的\n2. 转人工" in text and "https://shop.test/p.png" in text
    assert "<li value=\"2\">转人工</li>" in markup and '<img src="https://shop.test/p.png"' in markup

    imap.deliver(shopper_mail(
        "2\n\n在 2024年6月3日 10:00，客服 <kefu@shop.test> 写道：\n> 收到：帮我查下订单\n> 1. 是的",
        subject="Re: 订单咨询", message_id="<m2@example.com>", in_reply_to=first["Message-ID"],
        references=f"<m1@example.com> {first['Message-ID']}",
    ))
    assert await channel.poll_once(bot) == 1
    one, two = bot.received
    assert one.sender_id == two.sender_id == conversation_id("<m1@example.com>", SHOPPER).conversation_id
    assert one.input_channel == two.input_channel == "email"
    assert two.text == "/request_human"  # "2" picked the second option
    assert SHOPPER not in str(one.metadata)  # the address never reaches the dialogue

    second = smtp.messages[1]
    assert second["Subject"] == "Re: 订单咨询"
    assert second["In-Reply-To"] == "<m2@example.com>"
    assert second["References"].split() == ["<m1@example.com>", first["Message-ID"], "<m2@example.com>"]
    assert all("\\Seen" in flags and "\\Flagged" not in flags for flags in imap.flags())

    # an agent's later push through get_output_channel() stays in the thread
    await channel.get_output_channel().send_text_message(one.sender_id, "人工客服小王为您服务")
    pushed = smtp.messages[2]
    assert "人工客服小王为您服务" in text_part(pushed)
    assert pushed["In-Reply-To"] == second["Message-ID"] and pushed["Subject"] == "Re: 订单咨询"


@pytest.mark.asyncio
async def test_only_a_reply_to_the_shops_own_mail_from_the_same_address_continues_a_conversation(servers, state):
    """Whoever knows a thread's first Message-ID (anyone CC'd on it) does not
    join the conversation, nor does another address replying to our mail:
    each starts a conversation of its own, and a proof never carries over."""
    imap, smtp = servers
    bot, channel = Bot(), make_channel(imap, smtp.port, state)
    imap.deliver(shopper_mail("帮我查下订单2611010000000001", message_id="<t1@example.com>"))
    assert await channel.poll_once(bot) == 1
    ours = smtp.messages[0]["Message-ID"]
    # an attacker references the shopper's own first mail
    imap.deliver(shopper_mail("5678", sender="attacker@evil.test", subject="Re: 订单咨询",
                              message_id="<t2@evil.test>", references="<t1@example.com>"))
    # another address replies to the shop's mail
    imap.deliver(shopper_mail("5678", sender="lisi@example.com", subject="Re: 订单咨询",
                              message_id="<t3@example.com>", in_reply_to=ours, references=f"<t1@example.com> {ours}"))
    # the shopper replies to the shop's mail
    imap.deliver(shopper_mail("5678", subject="Re: 订单咨询", message_id="<t4@example.com>", in_reply_to=ours,
                              references=f"<t1@example.com> {ours}"))
    assert await channel.poll_once(bot) == 3
    first, attacker, other, shopper = (m.sender_id for m in bot.received)
    assert shopper == first and len({first, attacker, other}) == 3
    replied_to = [m["To"] for m in smtp.messages[1:]]
    assert replied_to == ["attacker@evil.test", "lisi@example.com", SHOPPER]


@pytest.mark.asyncio
async def test_a_reply_to_address_never_receives_the_shops_mail(servers, state):
    imap, smtp = servers
    imap.deliver(shopper_mail("你好", message_id="<rt2@example.com>", headers={"Reply-To": "victim@example.org"}))
    await make_channel(imap, smtp.port, state).poll_once(Bot())
    (reply,) = smtp.messages
    assert reply["To"] == SHOPPER and "victim" not in str(reply)


@pytest.mark.asyncio
async def test_replies_to_one_address_are_limited_per_hour(servers, state):
    """The shop's address is no way to flood someone's inbox: past the
    limit nothing is sent, the failure is recorded and the mail flagged."""
    imap, smtp = servers
    bot = Bot()
    for n in range(MAX_REPLIES_PER_HOUR + 2):
        imap.deliver(shopper_mail(f"第{n}封", message_id=f"<flood{n}@example.com>", sender="victim@example.org"))
    answered = await make_channel(imap, smtp.port, state).poll_once(bot)
    assert answered == MAX_REPLIES_PER_HOUR and len(smtp.messages) == MAX_REPLIES_PER_HOUR
    refused = [d for d in state.deliveries("email") if d.status == "failed"]
    assert len(refused) == 2 and all("limit" in d.error for d in refused)
    assert sum("\\Flagged" in f for f in imap.flags()) == 2


@pytest.mark.asyncio
async def test_robots_lists_bounces_and_ourselves_get_no_reply(servers, state):
    imap, smtp = servers
    bot, channel = Bot(), make_channel(imap, smtp.port, state)
    robots = [
        {"headers": {"Auto-Submitted": "auto-replied"}},
        {"headers": {"Precedence": "bulk"}},
        {"headers": {"List-Id": "<deals.example.com>"}},
        {"headers": {"List-Unsubscribe": "<mailto:u@example.com>"}},
        {"headers": {"X-Autoreply": "yes"}},
        {"headers": {"Return-Path": "<>"}},
        {"sender": "MAILER-DAEMON@example.com"},
        {"sender": f"客服 <{IMAP_USER}>"},
    ]
    for n, extra in enumerate(robots):
        imap.deliver(shopper_mail("我不在办公室 / out of office", message_id=f"<robot{n}@example.com>", **extra))
    assert await channel.poll_once(bot) == 0
    assert bot.received == [] and smtp.messages == []
    assert len(imap.flags()) == len(robots) and all("\\Seen" in f for f in imap.flags())


@pytest.mark.asyncio
async def test_a_mail_is_answered_once_across_polls_and_restarts(servers, state):
    imap, smtp = servers
    bot = Bot()
    raw = shopper_mail("运费多少", message_id="<once@example.com>")
    imap.deliver(raw)
    assert await make_channel(imap, smtp.port, state).poll_once(bot) == 1
    imap.deliver(raw)  # delivered twice
    imap.mark_all_unseen()  # and seen again by another client
    assert await make_channel(imap, smtp.port, state).poll_once(bot) == 0  # a restarted connector
    assert len(bot.received) == 1 and len(smtp.messages) == 1


@pytest.mark.asyncio
async def test_smtp_down_is_retried_recorded_and_the_mail_is_kept_for_an_agent(servers, state):
    imap, smtp = servers
    bot = Bot()
    down = make_channel(imap, free_port(), state)  # nothing listens there
    imap.deliver(shopper_mail("我要投诉", message_id="<down@example.com>"))
    assert await down.poll_once(bot) == 0
    assert len(bot.received) == 1 and smtp.messages == []
    (failed,) = state.deliveries("email")
    assert failed.status == "failed" and failed.attempts == 4 and "Connect" in failed.error
    (flags,) = imap.flags()
    assert "\\Flagged" in flags and "\\Seen" in flags  # flagged for an agent, still in INBOX

    # the turn is not run again when the server is back ...
    imap.mark_all_unseen()
    up = make_channel(imap, smtp.port, state)
    assert await up.poll_once(bot) == 0 and len(bot.received) == 1
    # ... an agent answers in the thread through Rasa's API (output_channel=latest)
    await up.get_output_channel().send_text_message(bot.received[0].sender_id, "抱歉久等了")
    (mail,) = smtp.messages
    assert mail["In-Reply-To"] == "<down@example.com>" and "抱歉久等了" in text_part(mail)
    assert [d.status for d in state.deliveries("email")] == ["failed", "sent"]


@pytest.mark.asyncio
async def test_a_refused_recipient_is_not_retried(servers, state):
    imap, smtp = servers
    smtp.capture.refuse_with = "550 5.1.1 mailbox unavailable"
    imap.deliver(shopper_mail("你好", message_id="<refused@example.com>"))
    await make_channel(imap, smtp.port, state).poll_once(Bot())
    (failed,) = state.deliveries("email")
    assert failed.status == "failed" and failed.attempts == 1 and "550" in failed.error


@pytest.mark.asyncio
async def test_empty_and_huge_mails_get_a_polite_answer_without_a_turn(servers, state):
    imap, smtp = servers
    bot = Bot()
    imap.deliver(shopper_mail("\n> 只有引用\n", subject="Re: 订单咨询", message_id="<empty@example.com>",
                              references="<old@example.com>"))
    imap.deliver(shopper_mail("很长" * 3000, message_id="<long@example.com>"))
    imap.deliver(shopper_mail("", subject="订单2611010000000001到哪了", message_id="<subject@example.com>"))
    await make_channel(imap, smtp.port, state).poll_once(bot)
    assert [m.text for m in bot.received] == ["订单2611010000000001到哪了"]  # a subject-only mail is a question
    empty, long, _ = smtp.messages
    assert "正文" in text_part(empty) and "too long" in text_part(long)


@pytest.mark.asyncio
async def test_the_poller_runs_until_stopped(servers, state):
    imap, smtp = servers
    bot, channel = Bot(), make_channel(imap, smtp.port, state)
    channel.start(bot)
    imap.deliver(shopper_mail("在吗", message_id="<live@example.com>"))
    for _ in range(100):
        if smtp.messages:
            break
        await asyncio.sleep(0.1)
    assert len(smtp.messages) == 1
    started = time.monotonic()
    await channel.stop()
    assert time.monotonic() - started < 5 and channel._task is None
    imap.deliver(shopper_mail("还在吗", message_id="<late@example.com>"))
    await asyncio.sleep(0.6)
    assert len(bot.received) == 1  # stopped means stopped


# ------------------------------------------------------ photos as evidence


def jpeg(size=(64, 48), noise: bool = False, camera: str = "SecretCam") -> bytes:
    """A JPEG as a phone sends it, its camera in EXIF (tag 0x010F, Make)."""
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (200, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = camera
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=95)
    return out.getvalue()


def test_image_attachments_are_taken_as_bytes_and_filenames_only_hint():
    photo = jpeg()
    raw = shopper_mail("杯子碎了", message_id="<p@example.com>", attachments=[
        (photo, "image/jpeg", "IMG_0001.JPG"),
        (photo, "application/octet-stream", "from-phone.jpeg"),  # a client that knows no types
        (b"%PDF-1.4", "application/octet-stream", "invoice.pdf"),  # not even a hint
        (b"receipt", "text/plain", "receipt.txt"),
    ])
    mail = parse_mail(raw, IMAP_USER)
    assert mail.text == "杯子碎了"  # the attachments are not the text
    assert mail.photos.kept == (photo, photo) and mail.photos.refused == () and mail.photos.ignored == 0
    assert "IMG_0001" not in repr(mail) and "from-phone" not in repr(mail)


def test_too_many_or_too_big_attachments_are_not_kept():
    raw = shopper_mail("照片", message_id="<many@example.com>",
                       attachments=[(jpeg(), "image/jpeg", f"{n}.jpg") for n in range(MAX_PHOTOS_PER_MAIL + 2)])
    photos = parse_mail(raw, IMAP_USER).photos
    assert len(photos.kept) == MAX_PHOTOS_PER_MAIL and photos.ignored == 2
    big = jpeg((300, 300), noise=True)
    photos = parse_mail(shopper_mail("大图", message_id="<big@example.com>",
                                     attachments=[(big, "image/jpeg", "big.jpg"), (jpeg(), "image/png", "a.png")]),
                        IMAP_USER, max_photo_bytes=len(big) - 1).photos
    assert photos.refused == ("too_big",) and len(photos.kept) == 1  # the big one's bytes are gone


def _evidence_rows(intake: Intake, conversation: str):
    return EvidenceStore(intake.store.engine).of_conversation(conversation)


@pytest.mark.asyncio
async def test_a_photo_attachment_becomes_evidence_without_its_exif(servers, state, evidence, tmp_path):
    imap, smtp = servers
    bot = Bot()
    photo = jpeg()
    assert b"SecretCam" in photo
    imap.deliver(shopper_mail("收到的杯子是碎的", message_id="<photo@example.com>",
                              attachments=[(photo, "image/jpeg", "IMG_0001.jpg")]))
    assert await make_channel(imap, smtp.port, state).poll_once(bot) == 1

    conversation = conversation_id("<photo@example.com>", SHOPPER).conversation_id
    (row,) = _evidence_rows(evidence, conversation)
    assert row.channel == "email" and row.content_type == "image/jpeg" and (row.width, row.height) == (64, 48)
    stored = (tmp_path / "evidence" / row.storage_key).read_bytes()
    assert b"SecretCam" not in stored
    with Image.open(io.BytesIO(stored)) as kept:
        assert 0x010F not in kept.getexif()
    assert not any("IMG_0001" in str(path) for path in (tmp_path / "evidence").rglob("*"))

    # the photo first, then the words, both in the mail's conversation
    assert [m.text for m in bot.received] == [PHOTO_TEXT, "收到的杯子是碎的"]
    assert {m.sender_id for m in bot.received} == {conversation}
    (reply,) = smtp.messages  # one reply for the whole mail, in the thread
    assert reply["In-Reply-To"] == "<photo@example.com>" and reply["To"] == SHOPPER
    assert f"收到：{PHOTO_TEXT}" in text_part(reply) and "收到：收到的杯子是碎的" in text_part(reply)


@pytest.mark.asyncio
async def test_a_mail_of_photos_only_hands_only_the_photos(servers, state, evidence):
    imap, smtp = servers
    bot = Bot()
    imap.deliver(shopper_mail("", subject="破损照片", message_id="<only@example.com>",
                              attachments=[(jpeg(), "image/jpeg", "a.jpg"), (jpeg((32, 32)), "image/jpeg", "b.jpg")]))
    assert await make_channel(imap, smtp.port, state).poll_once(bot) == 1
    assert [m.text for m in bot.received] == [PHOTO_TEXT, PHOTO_TEXT]  # not the subject, no "empty mail"
    conversation = conversation_id("<only@example.com>", SHOPPER).conversation_id
    assert len(_evidence_rows(evidence, conversation)) == 2
    assert "正文" not in text_part(smtp.messages[0])


@pytest.mark.asyncio
async def test_a_file_that_is_no_image_is_refused_in_the_reply(servers, state, evidence):
    imap, smtp = servers
    bot = Bot()
    imap.deliver(shopper_mail("看附件", message_id="<fake@example.com>",
                              attachments=[(b"MZ\x90\x00 not a picture", "image/jpeg", "photo.jpg")]))
    assert await make_channel(imap, smtp.port, state).poll_once(bot) == 1
    assert [m.text for m in bot.received] == ["看附件"]  # no photo reached the dialogue
    assert _evidence_rows(evidence, conversation_id("<fake@example.com>", SHOPPER).conversation_id) == []
    (reply,) = smtp.messages
    text = text_part(reply)
    assert refusal("not_image", evidence.max_bytes) in text and "收到：看附件" in text
    assert "JPG" in text and "isn't a photo" in text  # both languages: a mail does not tell which
    assert reply["In-Reply-To"] == "<fake@example.com>" and reply["References"] == "<fake@example.com>"


@pytest.mark.asyncio
async def test_an_oversized_photo_is_refused_too_big(servers, state, tmp_path, monkeypatch):
    imap, smtp = servers
    small = photo_intake(tmp_path, max_bytes=20_000)
    monkeypatch.setattr(mail_channel, "intake", lambda: small)
    bot = Bot()
    big = jpeg((300, 300), noise=True)
    assert len(big) > small.max_bytes
    imap.deliver(shopper_mail("", subject="大图", message_id="<huge@example.com>",
                              attachments=[(big, "image/jpeg", "huge.jpg")]))
    assert await make_channel(imap, smtp.port, state).poll_once(bot) == 1
    assert bot.received == []  # nothing to say to the dialogue: only a refused photo
    assert _evidence_rows(small, conversation_id("<huge@example.com>", SHOPPER).conversation_id) == []
    (reply,) = smtp.messages
    assert refusal("too_big", small.max_bytes) in text_part(reply) and "1 MB" in text_part(reply)


@pytest.mark.asyncio
async def test_a_crash_between_intake_and_claim_loses_nothing_and_records_once(servers, state, evidence,
                                                                               monkeypatch):
    imap, smtp = servers
    bot = Bot()
    imap.deliver(shopper_mail("碎了", message_id="<crash@example.com>",
                              attachments=[(jpeg(), "image/jpeg", "a.jpg")]))
    claim = state.claim_message

    def crash(channel: str, message_id: str) -> bool:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(state, "claim_message", crash)
    with pytest.raises(RuntimeError):
        await make_channel(imap, smtp.port, state).poll_once(bot)
    conversation = conversation_id("<crash@example.com>", SHOPPER).conversation_id
    assert len(_evidence_rows(evidence, conversation)) == 1 and bot.received == []
    assert all("\\Seen" not in flags for flags in imap.flags())  # still waiting in INBOX

    monkeypatch.setattr(state, "claim_message", claim)
    assert await make_channel(imap, smtp.port, state).poll_once(bot) == 1  # the next poll handles it
    assert len(_evidence_rows(evidence, conversation)) == 1  # the intake deduped the second sight
    assert [m.text for m in bot.received] == [PHOTO_TEXT, "碎了"] and len(smtp.messages) == 1
    imap.deliver(shopper_mail("碎了", message_id="<crash@example.com>",
                              attachments=[(jpeg((40, 40)), "image/jpeg", "a.jpg")]))  # delivered again
    assert await make_channel(imap, smtp.port, state).poll_once(bot) == 0
    assert len(_evidence_rows(evidence, conversation)) == 1 and len(bot.received) == 2


# --------------------------------------------------- end to end through Kefu


@pytest.fixture(scope="module")
def kefu_mail(shop_url, tmp_path_factory, imap, smtp):
    """Kefu's servers with the e-mail channel polling pymap every 0.3 s."""
    credentials = (
        "rest:\n"
        "channels.mail.MailInput:\n"
        f'  address: "{IMAP_USER}"\n  imap_host: 127.0.0.1\n  imap_port: {imap.port}\n'
        f'  imap_user: "{IMAP_USER}"\n  imap_password: ${{KEFU_TEST_IMAP_PASSWORD}}\n  imap_ssl: false\n'
        f"  smtp_host: 127.0.0.1\n  smtp_port: {smtp.port}\n  smtp_starttls: false\n  poll_seconds: 0.3\n"
    )
    imap.clear()
    workdir = tmp_path_factory.mktemp("mail-servers")
    servers = start_kefu(workdir, shop_url, credentials,
                         env={"KEFU_TEST_IMAP_PASSWORD": IMAP_PASSWORD, "KEFU_EVIDENCE_DIR": str(workdir / "evidence")})
    yield servers
    servers.stop()


@pytest.mark.e2e
def test_an_order_lookup_by_email_in_one_thread(kefu_mail, imap, smtp):
    smtp.messages.clear()
    imap.deliver(shopper_mail("您好，帮我查下订单2611010000000001到哪了，谢谢", subject="订单查询",
                              message_id="<e2e-1@example.com>"))
    (asked,) = smtp.wait_for(1)
    assert "后4位" in text_part(asked) and asked["In-Reply-To"] == "<e2e-1@example.com>"
    assert asked["Subject"] == "Re: 订单查询" and "后4位" in html_part(asked)

    quoted = "\n".join("> " + line for line in text_part(asked).splitlines())
    imap.deliver(shopper_mail(
        f"5678\n\n在 2024年6月3日 10:00，客服 <{IMAP_USER}> 写道：\n{quoted}", subject="Re: 订单查询",
        message_id="<e2e-2@example.com>", in_reply_to=asked["Message-ID"],
        references=f"<e2e-1@example.com> {asked['Message-ID']}",
    ))
    _, status = smtp.wait_for(2)
    reply = text_part(status)
    assert "2611010000000001" in reply and "运输中" in reply
    assert "13800005678" not in reply
    assert status["Subject"] == "Re: 订单查询" and status["In-Reply-To"] == "<e2e-2@example.com>"
    assert status["References"].split()[0] == "<e2e-1@example.com>"
    assert "\\Seen" in imap.flags()[-1]

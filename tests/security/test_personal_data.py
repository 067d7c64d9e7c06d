"""Attack 10, personal data: analytics copied raw sender ids and message
texts into the shop database and into trainer exports meant to be
committed; ``conversation_key`` was an unsalted SHA-256 of low-entropy ids;
replies and the desk showed 138****5678, the proof for all of a customer's
orders. After real conversations through the running Kefu, the analytics
tables and the export hold keyed hashes and placeholders only."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import create_engine, text

from kefu.analytics import trainer
from kefu.analytics.ingest import ingest_tracker_store
from kefu.core import ids
from kefu.store.db import make_engine
from tests.security.conftest import SHIPPED, unique

pytestmark = pytest.mark.e2e

PHONE = "13912345678"
EMAIL = "wang.fang@example.com"


def test_analytics_and_exports_keep_no_ids_and_no_personal_data(outsider):
    sender = "13700001111"  # REST senders are often phone numbers or e-mail addresses
    outsider.say(sender, f"我的手机{PHONE}，邮箱{EMAIL}，地址上海市浦东新区张江路88号3栋1201室，订单{SHIPPED}咋还没到")
    outsider.say(sender, "qwpoeiru zxmvn")  # misunderstood: a candidate for the trainers' export
    engine = make_engine(outsider.shop_url)
    ingest_tracker_store(engine, f"sqlite:///{outsider.tracker_db}")
    dumped = []
    with create_engine(outsider.shop_url).connect() as db:
        for table in ("analytics_conversations", "analytics_turns", "misunderstood_messages"):
            dumped += [str(tuple(row)) for row in db.execute(text(f"select * from {table}"))]
        keys = {r[0] for r in db.execute(text("select conversation_key from analytics_conversations"))}
    everything = "\n".join(dumped)
    assert dumped, "nothing was ingested"
    for secret in (sender, f"rest:{sender}", PHONE, EMAIL, SHIPPED, "张江路88号"):
        assert secret not in everything, secret
    assert "<phone>" in everything and "<order>" in everything and "<address>" in everything
    assert ids.conversation_key(f"rest:{sender}") in keys  # a keyed hash ...
    plain = hashlib.sha256(f"rest:{sender}".encode()).hexdigest()[:32]
    assert plain not in keys  # ... not one anybody can recompute from a guess

    with create_engine(outsider.shop_url).connect() as db:
        message_id = db.execute(text("select id from misunderstood_messages order by id desc limit 1")).scalar()
    trainer.label(engine, message_id, "out_of_scope")
    exported = trainer.export(engine)
    assert "out_of_scope" in exported and PHONE not in exported and sender not in exported


def test_replies_never_show_the_digits_that_prove_an_order(outsider):
    sender = unique("masked")
    outsider.say(sender, f"查订单{SHIPPED}")
    reply = outsider.say(sender, "5678")
    assert SHIPPED in reply and "138********" in reply and "5678" not in reply

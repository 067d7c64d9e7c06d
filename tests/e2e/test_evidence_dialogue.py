"""Photo evidence in the after-sale form, through the real trained model,
Rasa and the action server: a damaged item is asked for photos, a photo the
connector kept is counted, "好了" submits, and the request carries it. A
reason that needs no photo is not asked for one."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import text

from kefu.core.config import EvidenceOptions
from kefu.evidence.intake import PHOTO_TEXT, build
from kefu.store.db import make_engine
from kefu.store.evidence import EvidenceStore

pytestmark = pytest.mark.e2e


def _photo(colour: tuple) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(out, "JPEG")
    return out.getvalue()


def test_a_damaged_item_is_asked_for_photos_and_the_request_keeps_them(chat, shop_url, returnable, tmp_path):
    intake = build(EvidenceOptions(directory=tmp_path / "evidence"), shop_url)
    chat.say("我要退货")
    chat.say(returnable)
    chat.say("5678")
    assert "照片" in chat.said("收到的时候杯子就碎了，有裂痕")
    intake.receive(chat.conversation_id, "rest", _photo((200, 30, 30)))  # what a connector does
    assert "已收到1张照片" in chat.said(PHOTO_TEXT)
    intake.receive(chat.conversation_id, "rest", _photo((30, 200, 30)))
    assert "已收到2张照片" in chat.said(PHOTO_TEXT)
    reply = chat.said("好了")
    number = re.search(r"AS\d{8}", reply)
    assert number and "已附上2张照片" in reply, reply
    kept = EvidenceStore(make_engine(shop_url)).of_aftersale(number.group(0))
    assert len(kept) == 2 and {e.channel for e in kept} == {"rest"}


def test_a_reason_that_needs_no_photo_is_not_asked_for_one(chat, returnable):
    chat.say("我要退货")
    chat.say(returnable)
    chat.say("5678")
    reply = chat.said("尺码偏小了，不合适")
    assert re.search(r"AS\d{8}", reply) and "照片" not in reply, reply


def test_done_before_any_photo_is_told_so_and_skip_submits_without_one(chat, shop_url, returnable):
    chat.say("我要退货")
    chat.say(returnable)
    chat.say("5678")
    assert "照片" in chat.said("衣服有个洞，质量太差了")
    assert "还没收到照片" in chat.said("好了")
    reply = chat.said("跳过")
    number = re.search(r"AS\d{8}", reply)
    assert number and "附上" not in reply, reply
    assert EvidenceStore(make_engine(shop_url)).of_aftersale(number.group(0)) == []


def test_a_complaint_about_a_broken_item_carries_its_photo(chat, shop_url, tmp_path):
    intake = build(EvidenceOptions(directory=tmp_path / "evidence"), shop_url)
    assert "照片" in chat.said("我要投诉！收到的台灯灯罩是碎的，客服也不理我")
    intake.receive(chat.conversation_id, "rest", _photo((90, 90, 200)))
    chat.say(PHOTO_TEXT)
    reply = chat.said("发完了")
    number = re.search(r"TK\d{8}", reply)
    assert number and "已附上1张照片" in reply, reply
    with make_engine(shop_url).connect() as db:
        attached = db.execute(text("select count(*) from evidence e join tickets t on t.number = e.ticket_number "
                                   "where t.id = :id"), {"id": number.group(0)}).scalar()
    assert attached == 1

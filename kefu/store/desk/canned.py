"""Canned replies (快捷回复): the bilingual texts an agent sends with a click."""
from __future__ import annotations

from typing import List, Sequence, Tuple

from sqlalchemy import func, select

from kefu.store.db import session_scope
from kefu.store.desk.base import StoreBase
from kefu.store.desk.views import CannedView
from kefu.store.models import CannedReply

DEFAULT_CANNED: Sequence[Tuple[str, str, str]] = (
    ("问候 Greeting", "您好，我是人工客服，很高兴为您服务。请问有什么可以帮您？",
     "Hello, this is a member of our customer-service team. How can I help you?"),
    ("请稍等 One moment", "好的，我正在为您查询，请稍等一两分钟。",
     "Thank you, I'm looking into it now - please give me a minute or two."),
    ("核实订单 Verify order", "为了保护您的信息安全，请提供订单号和下单手机号的后四位。",
     "To protect your account, please send the order number and the last 4 digits of the phone number on it."),
    ("物流催促 Chase delivery", "我已经联系快递加急处理，一有新的物流进展会马上通知您。",
     "I've asked the carrier to prioritise your parcel and will let you know as soon as it moves."),
    ("退款说明 Refund timing", "退款已提交，原路退回，一般1-3个工作日到账（信用卡可能需要3-7个工作日）。",
     "The refund has been submitted to your original payment method and usually arrives in 1-3 working days "
     "(3-7 for credit cards)."),
    ("结束语 Closing", "请问还有其他可以帮您的吗？如果没有，我先结束本次服务，祝您生活愉快！",
     "Is there anything else I can help with? If not, I'll close this chat now - have a nice day!"),
)


class CannedReplies(StoreBase):
    def canned_replies(self) -> List[CannedView]:
        with session_scope(self.engine) as s:
            return [CannedView(c.id, c.title, c.text_zh, c.text_en)
                    for c in s.execute(select(CannedReply).order_by(CannedReply.id)).scalars()]

    def seed_canned_replies(self) -> int:
        """Write the default canned replies if there are none; how many."""
        with session_scope(self.engine) as s:
            if s.execute(select(func.count()).select_from(CannedReply)).scalar_one():
                return 0
            for title, zh, en in DEFAULT_CANNED:
                s.add(CannedReply(title=title, text_zh=zh, text_en=en))
            return len(DEFAULT_CANNED)

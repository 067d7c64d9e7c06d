"""Words that actions put into response templates, in both languages.

Sentences live in domain.yml (so trainers can edit them); only the values
that fill their `{placeholders}` (a status name, a kind of request) are
chosen here, by the conversation's language.
"""
from __future__ import annotations

from datetime import timedelta, timezone
from typing import Dict

#: shoppers read times in China time
CHINA = timezone(timedelta(hours=8))

LABELS: Dict[str, Dict[str, str]] = {
    # order statuses
    "unpaid": {"zh": "待付款", "en": "awaiting payment"},
    "paid": {"zh": "已付款，仓库正在备货", "en": "paid, being prepared in the warehouse"},
    "shipped": {"zh": "已发货，运输中", "en": "shipped, on its way"},
    "delivered": {"zh": "已签收", "en": "delivered"},
    "cancelled": {"zh": "已取消", "en": "cancelled"},
    "refunded": {"zh": "已退款", "en": "refunded"},
    # after-sale kinds and statuses
    "return": {"zh": "退货", "en": "return"},
    "exchange": {"zh": "换货", "en": "exchange"},
    "refund": {"zh": "退款", "en": "refund"},
    "requested": {"zh": "已提交，等待审核", "en": "submitted, awaiting review"},
    "approved": {"zh": "已同意，等待寄回/处理", "en": "approved, awaiting the parcel"},
    "received": {"zh": "已收到退回商品，退款处理中", "en": "parcel received, refund in progress"},
    "rejected": {"zh": "未通过", "en": "declined"},
    # ticket statuses
    "open": {"zh": "待处理", "en": "open"},
    "pending": {"zh": "处理中", "en": "in progress"},
    "resolved": {"zh": "已解决", "en": "resolved"},
    # reasons an order cannot be changed
    "already_shipped": {"zh": "已经发货了", "en": "has already shipped"},
    "already_delivered": {"zh": "已经签收了", "en": "has already been delivered"},
    "already_cancelled": {"zh": "已经取消了", "en": "is already cancelled"},
    "already_refunded": {"zh": "已经退款了", "en": "has already been refunded"},
    "advice_after_ship": {
        "zh": "您可以拒收包裹或签收后申请退货，我可以帮您办理~",
        "en": "You can refuse the parcel, or ask for a return once it arrives; I can help with that.",
    },
    "advice_none": {"zh": "", "en": ""},
    "not_found": {"zh": "查不到这个订单", "en": "cannot be found"},
    # reasons a return, exchange or refund is refused
    "window_expired": {"zh": "已超过签收后7天的无理由退换期限", "en": "is past the 7-day return window counted from delivery"},
    "not_returnable": {"zh": "包含不支持七天无理由退换的商品（食品生鲜、内衣袜品等）", "en": "contains items that cannot be returned without a reason (food, underwear and the like)"},
    "not_delivered": {"zh": "还没有签收，签收后才能申请", "en": "has not been delivered yet; you can ask once it arrives"},
    "already_requested": {"zh": "已经有一个售后申请在处理中", "en": "already has an after-sale request in progress"},
    "not_paid": {"zh": "还没有付款，无需退款", "en": "has not been paid, so there is nothing to refund"},
    "refund_needs_return": {"zh": "已经签收，需要先申请退货，收到退货后再退款", "en": "has been delivered; please ask for a return, and we refund once it is back"},
    "closed": {"zh": "已关闭", "en": "closed"},
}


def label(key: str, lang: str) -> str:
    """The label of ``key`` in ``lang``; unknown keys are shown as they are
    rather than failing a reply."""
    entry = LABELS.get(key)
    return entry.get(lang, entry["zh"]) if entry else key


def yuan(cents: int) -> str:
    """Cents as a price: 189900 -> '1899.00'."""
    return f"{cents / 100:.2f}"

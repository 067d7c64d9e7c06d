"""Words that actions put into response templates, in both languages.

Sentences live in domain.yml (so trainers can edit them); only the values
that fill their `{placeholders}` (a status name, a kind of request) are
chosen here, by the conversation's language.
"""
from __future__ import annotations

from typing import Dict

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
}


def label(key: str, lang: str) -> str:
    """The label of ``key`` in ``lang``; unknown keys are shown as they are
    rather than failing a reply."""
    entry = LABELS.get(key)
    return entry.get(lang, entry["zh"]) if entry else key


def yuan(cents: int) -> str:
    """Cents as a price: 189900 -> '1899.00'."""
    return f"{cents / 100:.2f}"

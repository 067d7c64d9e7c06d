"""Masking of personal data in replies, logs and stored texts.

Two strengths, for two readers:

* :func:`redact` for what the shop's own staff read (ticket excerpts, logs):
  phone numbers and e-mail addresses are masked, the rest stays readable.
* :func:`anonymise` for what leaves the conversation (analytics tables,
  trainer exports meant to be committed): phones, e-mails, order ids, ID and
  card numbers, addresses and bare digit answers become placeholders.

A phone is never shown with its last 4 digits: they are the proof that a
shopper owns an order (actions/identity.py), so a reply or the desk shows the
carrier prefix only (138********). A name shows its first character.
"""
from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?(1[3-9]\d)[ -]?\d{4}[ -]?\d{4}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_ORDER = re.compile(r"(?<!\d)\d{16}(?!\d)")
_ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})(?![0-9A-Za-z])"
)
_LONG_NUMBER = re.compile(r"(?<!\d)\d(?:[ -]?\d){6,}(?!\d)")
_BARE_DIGITS = re.compile(r"^\D{0,12}\d{4,6}\D{0,6}$")
_CN_PLACE = r"(?:省|自治区|市|区|县|旗|镇|乡|街道|大道|路|街|巷|弄|村|小区|花园|公寓|大厦|广场)"
#: characters of the words around an address (改到, 寄到, 我的地址是), never of a place name
_CN_NOT_PLACE = "的地址改到寄送是在我要把给发往收货请帮麻烦吗呢了吧和跟从"
_CN_ADDRESS = re.compile(
    r"(?:[^\W\d_A-Za-z" + _CN_NOT_PLACE + r"]{1,10}?" + _CN_PLACE + r"){2,}"
    r"(?:[\u4e00-\u9fa5A-Za-z0-9\-]{0,12}?(?:号楼|号院|号|栋|幢|座|单元|室|楼|层))*"
)
_EN_ADDRESS = re.compile(
    r"\b\d{1,5}[A-Za-z]?\s+(?:[A-Za-z]+\s+){1,4}"
    r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|nagar|marg)\b\.?",
    re.IGNORECASE,
)


def mask_phone(phone: str) -> str:
    """'13812345678' -> '138********': the carrier prefix, never the last
    digits that prove ownership; anything shorter is fully masked."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) >= 7:
        return digits[:3] + "*" * (len(digits) - 3)
    return "****"


def mask_name(name: str) -> str:
    """'张三丰' -> '张**'."""
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else "*"


def mask_email(email: str) -> str:
    """'li.lei@example.com' -> 'l***@example.com'."""
    return _EMAIL.sub(r"\1***\2", email or "")


def redact(text: str) -> str:
    """Phone numbers and e-mail addresses masked inside free text (for
    the shop's staff and for logs)."""
    text = _PHONE.sub(lambda m: mask_phone(m.group(0)), text or "")
    return _EMAIL.sub(r"\1***\2", text)


def anonymise(text: str) -> str:
    """Free text with every piece of personal data replaced by a
    placeholder, for analytics and exports that leave the shop's hands."""
    text = text or ""
    if _BARE_DIGITS.match(text.strip()):
        return _LONG_NUMBER.sub("<number>", re.sub(r"\d{4,6}", "<digits>", text))
    text = _EMAIL.sub("<email>", text)
    text = _ID_NUMBER.sub("<id>", text)
    text = _ORDER.sub("<order>", text)
    text = _PHONE.sub("<phone>", text)
    text = _LANDLINE.sub("<phone>", text)
    text = _LONG_NUMBER.sub("<number>", text)
    text = _CN_ADDRESS.sub("<address>", text)
    return _EN_ADDRESS.sub("<address>", text)

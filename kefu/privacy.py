"""Masking of personal data in replies and logs.

Replies may confirm *whose* order it is without disclosing it: a phone shows
its first 3 and last 4 digits (138****5678), a name its first character.
"""
from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+)")


def mask_phone(phone: str) -> str:
    """'13812345678' -> '138****5678'; anything else is fully masked."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "****"


def mask_name(name: str) -> str:
    """'张三丰' -> '张**'."""
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else "*"


def mask_email(email: str) -> str:
    """'li.lei@example.com' -> 'l***@example.com'."""
    return _EMAIL.sub(r"\1***\2", email or "")


def redact(text: str) -> str:
    """Mask phone numbers and e-mail addresses inside free text (for logs)."""
    return _EMAIL.sub(r"\1***\2", _PHONE.sub(r"\1****\2", text or ""))

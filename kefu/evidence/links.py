"""Signed, expiring links to one photo, for the agent desk.

A link names the photo, the variant (``full`` or ``thumb``) and the second
it expires, with an HMAC-SHA256 of the three under ``KEFU_EVIDENCE_LINK_KEY``.
The desk hands links only to agents who may see the conversation, and
serves a photo only for a valid, unexpired link from a signed-in agent: a
link copied out of the desk stops working in minutes, and a photo id alone
opens nothing.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Optional

VARIANTS = ("full", "thumb")


def signature(evidence_id: str, variant: str, expires: int, key: str) -> str:
    message = f"{evidence_id}.{variant}.{expires}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def link(evidence_id: str, variant: str, now: float, seconds: int, key: str) -> str:
    expires = int(now) + seconds
    return f"/evidence/{evidence_id}/{variant}?expires={expires}&sig={signature(evidence_id, variant, expires, key)}"


def valid(evidence_id: str, variant: str, expires: Optional[str], sig: Optional[str], now: float,
          longest: int, key: str) -> bool:
    """Whether the link is genuine and current; a link that claims to live
    longer than links are made for is forged."""
    if variant not in VARIANTS or not expires or not sig or not expires.isdigit() or len(expires) > 12:
        return False
    until = int(expires)
    if not now < until <= now + longest:
        return False
    return hmac.compare_digest(signature(evidence_id, variant, until, key), sig)

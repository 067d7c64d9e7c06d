"""What a storage backend for photo evidence does.

Keys are content addresses made by Kefu (``ab/<sha256>.jpg``), never a
name from outside, so a backend never sees a path a shopper chose.
"""
from __future__ import annotations

import re
from typing import Protocol

KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}(\.thumb)?\.(jpg|png|webp)$")


class Missing(KeyError):
    """No object under that key."""


class EvidenceStorage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Keep ``data`` under ``key`` (the same key twice keeps the same bytes)."""

    def get(self, key: str) -> bytes:
        """The bytes under ``key``; :class:`Missing` if there are none."""


def checked(key: str) -> str:
    if not KEY.match(key):
        raise ValueError("not an evidence key")
    return key


def key_for(sha256: str, extension: str, thumbnail: bool = False) -> str:
    return checked(f"{sha256[:2]}/{sha256}{'.thumb' if thumbnail else ''}.{extension}")

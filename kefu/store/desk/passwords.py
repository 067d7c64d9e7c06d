"""Agents' passwords: stdlib scrypt (no extra dependency), the upgrade of
weaker hashes at the next login, the dummy hash an unknown name is checked
against, and the hash under which a session token is stored."""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

#: scrypt cost: N = 2^17 (128 MiB, ~0.3 s), as OWASP advises; older hashes
#: are upgraded at the next successful login
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**17, 8, 1
_SCRYPT_MAXMEM = 256 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64); a fresh salt each time."""
    if not password:
        raise ValueError("a password must not be empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32,
                            maxmem=_SCRYPT_MAXMEM)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or int(n) > 2**20:
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            (password or "").encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected), maxmem=_SCRYPT_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash is weaker than what :func:`hash_password` makes."""
    parts = stored.split("$")
    return len(parts) != 6 or parts[0] != "scrypt" or (int(parts[1]), int(parts[2]), int(parts[3])) < (
        _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)


@functools.lru_cache(maxsize=1)
def dummy_hash() -> str:
    """What an unknown name is checked against, so that it takes as long as
    a known one (made on first use: it costs what a login costs)."""
    return hash_password("kefu-desk-timing-equaliser")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()

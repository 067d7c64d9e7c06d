"""The e-mail channel's settings: the shop's address and its IMAP and SMTP
servers, read from credentials.yml (``${ENV_VAR}`` values included).

Kept apart so that the mailbox, the sender and the poller each take one frozen
:class:`MailConfig` and none of them reads credentials itself. ``CHANNEL`` is
the name the channel goes by in Rasa, in the message claims and in the
delivery records.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict

CHANNEL = "email"


def _flag(value: Any, default: bool) -> bool:
    """Booleans from credentials.yml arrive as strings when they come from
    ${ENV_VAR}."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class MailConfig:
    address: str
    imap_host: str
    imap_user: str
    imap_password: str = field(repr=False)
    smtp_host: str
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    imap_port: int = 993
    imap_ssl: bool = True
    smtp_port: int = 587
    smtp_starttls: bool = True
    poll_seconds: float = 30.0

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any]) -> "MailConfig":
        missing = [k for k in ("address", "imap_host", "imap_user", "imap_password", "smtp_host")
                   if not credentials.get(k)]
        if missing:
            raise ValueError(f"e-mail channel: missing credentials {', '.join(missing)}")
        imap_ssl = _flag(credentials.get("imap_ssl"), True)
        return cls(
            address=str(credentials["address"]).strip(),
            imap_host=str(credentials["imap_host"]),
            imap_port=int(credentials.get("imap_port") or (993 if imap_ssl else 143)),
            imap_user=str(credentials["imap_user"]),
            imap_password=str(credentials["imap_password"]),
            imap_ssl=imap_ssl,
            smtp_host=str(credentials["smtp_host"]),
            smtp_port=int(credentials.get("smtp_port") or 587),
            smtp_user=str(credentials.get("smtp_user") or ""),
            smtp_password=str(credentials.get("smtp_password") or ""),
            smtp_starttls=_flag(credentials.get("smtp_starttls"), True),
            poll_seconds=float(credentials.get("poll_seconds") or 30),
        )

"""The shop's mailbox over IMAP, with the standard library's ``imaplib``: no
extra dependency, and the poller runs these blocking calls in a worker thread
so that a slow server cannot stall Rasa's event loop. A poll reads at most
``MAX_PER_POLL`` mails, and a mail larger than ``MAX_MAIL_BYTES`` is not
downloaded (its header is, so the shopper still gets a polite answer).
"""
from __future__ import annotations

import imaplib
import re
import ssl
from typing import List, Optional, Tuple

from channels.mail.config import MailConfig

#: mails larger than this are not downloaded; the shopper gets a polite answer.
#: Room for a phone photo or two (8 MB each, a third more in base64), as the
#: common providers' 25 MB limit on what they send.
MAX_MAIL_BYTES = 25 * 1024 * 1024
#: mails handled per poll, so one flood cannot hold the poller forever
MAX_PER_POLL = 50


def _arg(uid: bytes) -> str:
    """A UID as an imaplib argument: imaplib encodes str arguments itself
    (the same ASCII digits on the wire as the bytes the server sent)."""
    return uid.decode("ascii")


class ImapMailbox:
    """Blocking IMAP calls (run in a worker thread by the poller): one
    connection per poll, UNSEEN mails of INBOX fetched without marking them
    seen (BODY.PEEK), flags set once a mail is handled."""

    def __init__(self, config: MailConfig) -> None:
        self.config = config
        self.imap: Optional[imaplib.IMAP4] = None

    def open(self) -> None:
        if self.config.imap_ssl:
            self.imap = imaplib.IMAP4_SSL(self.config.imap_host, self.config.imap_port,
                                          ssl_context=ssl.create_default_context(), timeout=30)
        else:
            self.imap = imaplib.IMAP4(self.config.imap_host, self.config.imap_port, timeout=30)
        self.imap.login(self.config.imap_user, self.config.imap_password)
        typ, _ = self.imap.select("INBOX")
        if typ != "OK":
            raise imaplib.IMAP4.error("cannot select INBOX")

    def close(self) -> None:
        if self.imap is not None:
            try:
                self.imap.logout()
            except Exception:  # the connection may be gone already
                pass
            self.imap = None

    def unseen(self, limit: int = MAX_PER_POLL) -> List[bytes]:
        assert self.imap is not None
        typ, data = self.imap.uid("SEARCH", "UNSEEN")
        if typ != "OK":
            raise imaplib.IMAP4.error("UID SEARCH failed")
        return (data[0] or b"").split()[:limit]

    def fetch(self, uid: bytes) -> Tuple[Optional[bytes], bool]:
        """(the raw mail, False), or (its header only, True) when it is larger
        than MAX_MAIL_BYTES; (None, False) when it vanished."""
        assert self.imap is not None
        typ, data = self.imap.uid("FETCH", _arg(uid), "(RFC822.SIZE)")
        size_match = re.search(rb"RFC822\.SIZE (\d+)",
                               b" ".join(d if isinstance(d, bytes) else d[0] for d in data if d))
        too_large = size_match is not None and int(size_match.group(1)) > MAX_MAIL_BYTES
        typ, data = self.imap.uid("FETCH", _arg(uid), "(BODY.PEEK[HEADER])" if too_large else "(BODY.PEEK[])")
        if typ != "OK":
            return None, False
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                return item[1], too_large
        return None, False

    def flag(self, uid: bytes, flags: str) -> None:
        assert self.imap is not None
        self.imap.uid("STORE", _arg(uid), "+FLAGS", f"({flags})")

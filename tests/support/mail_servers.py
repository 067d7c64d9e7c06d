"""Real mail servers on free local ports for the e-mail channel tests.

IMAP: pymap (a pure-Python IMAP4rev1 server) with its in-memory ``dict``
backend, run as a subprocess; test mails are put in INBOX with imaplib APPEND,
exactly as a mail server delivers them. SMTP: aiosmtpd's Controller, which
keeps every message it accepts, and can be told to refuse them.
"""
from __future__ import annotations

import imaplib
import socket
import subprocess
import sys
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from aiosmtpd.controller import Controller

BIN = Path(sys.executable).parent
IMAP_USER = "kefu@shop.test"
IMAP_PASSWORD = "imap-test-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ImapServer:
    """pymap on 127.0.0.1:port, one user whose INBOX starts empty."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> "ImapServer":
        self.process = subprocess.Popen(
            [str(BIN / "pymap"), "--no-tls", "--host", "127.0.0.1", "--port", str(self.port),
             "dict", "--demo-user", IMAP_USER, "--demo-password", IMAP_PASSWORD],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pymap exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError("pymap did not listen")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def connect(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.login(IMAP_USER, IMAP_PASSWORD)
        imap.select("INBOX")
        return imap

    def deliver(self, raw: bytes) -> None:
        """Put a mail in INBOX (unseen), as the shop's mail server would."""
        imap = self.connect()
        try:
            typ, data = imap.append("INBOX", None, None, raw)
            assert typ == "OK", data
        finally:
            imap.logout()

    def flags(self) -> List[str]:
        """The flags of every mail in INBOX, in order."""
        imap = self.connect()
        try:
            typ, data = imap.fetch("1:*", "(FLAGS)")
            return [item.decode() for item in data if item]
        finally:
            imap.logout()

    def mark_all_unseen(self) -> None:
        imap = self.connect()
        try:
            imap.store("1:*", "-FLAGS", "(\\Seen)")
        finally:
            imap.logout()

    def clear(self) -> None:
        imap = self.connect()
        try:
            typ, data = imap.search(None, "ALL")
            if data and data[0]:
                imap.store("1:*", "+FLAGS", "(\\Deleted)")
                imap.expunge()
        finally:
            imap.logout()


class _Capture:
    def __init__(self) -> None:
        self.messages: List[EmailMessage] = []
        self.refuse_with: Optional[str] = None
        self.received = threading.Condition()

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook name
        if self.refuse_with:
            return self.refuse_with
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.received:
            self.messages.append(message)
            self.received.notify_all()
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1:port keeping what it receives."""

    def __init__(self) -> None:
        self.capture = _Capture()
        self.port = _free_port()
        self.controller = Controller(self.capture, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> List[EmailMessage]:
        return self.capture.messages

    def wait_for(self, count: int, timeout: float = 60) -> List[EmailMessage]:
        """Block until ``count`` mails arrived in total (for live servers)."""
        with self.capture.received:
            self.capture.received.wait_for(lambda: len(self.capture.messages) >= count, timeout=timeout)
        return list(self.capture.messages)


def shopper_mail(
    text: str,
    *,
    subject: str = "订单咨询",
    sender: str = "张三 <zhangsan@example.com>",
    to: str = IMAP_USER,
    message_id: str,
    in_reply_to: Optional[str] = None,
    references: Optional[str] = None,
    html: Optional[str] = None,
    headers: Optional[dict] = None,
    attachments: Sequence[Tuple[bytes, str, str]] = (),
) -> bytes:
    """A mail as a client sends it (text, or HTML only when ``text`` is ''),
    with ``attachments`` as (data, content type, filename)."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate()
    mail["Message-ID"] = message_id
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    if references:
        mail["References"] = references
    for name, value in (headers or {}).items():
        mail[name] = value
    if text:
        mail.set_content(text)
        if html:
            mail.add_alternative(html, subtype="html")
    else:
        mail.set_content(html or "", subtype="html")
    for data, content_type, filename in attachments:
        maintype, subtype = content_type.split("/", 1)
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return bytes(mail)


def text_part(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def html_part(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content().replace("\r\n", "\n")

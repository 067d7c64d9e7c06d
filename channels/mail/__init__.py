"""E-mail channel: Kefu answers a shop mailbox.

An IMAP poller reads the shop's INBOX and every bot answer to one incoming mail
goes back in ONE reply mail, sent by SMTP. One job per module: ``config`` (the
credentials), ``parse`` (reading a received mail), ``render`` (writing the
reply), ``output`` (sending it), ``imap`` (the mailbox) and ``channel`` (the
poller Rasa runs). The package is named ``mail`` so that it never shadows the
standard library's ``email`` package.
"""
from __future__ import annotations

from channels.mail.channel import MailInput

# credentials.yml names the connector by this path: channels.mail.MailInput
__all__ = ["MailInput"]

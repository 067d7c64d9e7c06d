"""Sending replies by SMTP (``aiosmtplib``): :class:`MailOutput`, the e-mail
channel's Rasa output channel.

A turn's bot messages go back in ONE reply mail, in the thread saved for the
conversation (``email_threads``). It goes to the shopper's From address only,
never to a ``Reply-To`` (which would let anyone make the shop mail a third
party), and at most ``MAX_REPLIES_PER_HOUR`` replies go to one address: the
shop's address is never a way to flood someone's inbox. A failed send is
retried by ``send_with_retry``; when it gives up, the failure is recorded in
``deliveries``. The options a reply offers are kept per conversation
(``channel_tokens``, 7 days) for the poller to match the shopper's answer.
"""
from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any, Dict, List, Optional, Sequence, Text

import aiosmtplib
from rasa.core.channels.channel import OutputChannel

from channels.delivery import PermanentSendError, send_with_retry
from channels.mail.config import CHANNEL, MailConfig
from channels.mail.parse import references_after
from channels.mail.render import build_reply
from kefu.core import ids
from kefu.core.clock import utcnow
from kefu.core.privacy import redact
from kefu.state import ChannelState, Thread, channel_state
from kefu.store.limits import Limit, Limits

# one logger for the whole channel, named as before the split into modules
logger = logging.getLogger("channels.mail")

BUTTONS_TTL = timedelta(days=7)
#: reply mails to one address per hour: the shop's address is never a way to
#: flood someone's inbox
MAX_REPLIES_PER_HOUR = 20
REPLY_LIMIT = Limit("mail_reply", MAX_REPLIES_PER_HOUR, timedelta(hours=1))


class MailOutput(OutputChannel):
    """Collects a turn's bot messages; :meth:`flush` sends them as one reply
    mail. Usable outside a request (agent pushes): with ``collect=False``
    every message is sent at once, in the thread saved for the conversation."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    def __init__(self, config: MailConfig, collect: bool = False, state: Optional[ChannelState] = None,
                 retry_delay: float = 0.5) -> None:
        self.config = config
        self.collect = collect
        self._state = state
        self.retry_delay = retry_delay
        self.messages: List[Dict[str, Any]] = []

    @property
    def state(self) -> ChannelState:
        return self._state or channel_state()

    async def _add(self, recipient_id: Text, message: Dict[str, Any]) -> None:
        self.messages.append(message)
        if not self.collect:
            await self.flush(recipient_id)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._add(recipient_id, {"text": text})

    async def send_text_with_buttons(self, recipient_id: Text, text: Text, buttons: List[Dict[str, Any]],
                                     **kwargs: Any) -> None:
        await self._add(recipient_id, {"text": text, "buttons": buttons})

    async def send_quick_replies(self, recipient_id: Text, text: Text, quick_replies: List[Dict[str, Any]],
                                 **kwargs: Any) -> None:
        await self._add(recipient_id, {"text": text, "buttons": quick_replies})

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._add(recipient_id, {"image": image})

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        await self._add(recipient_id, {"attachment": attachment})

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[str, Any], **kwargs: Any) -> None:
        """Custom payloads have no e-mail form; a text inside is still sent."""
        if isinstance(json_message, dict) and json_message.get("text"):
            await self._add(recipient_id, {"text": str(json_message["text"])})

    async def flush(self, recipient_id: Text) -> Optional[bool]:
        """Send the collected messages as one mail; True when sent, False when
        it failed (recorded), None when there was nothing to send."""
        messages, self.messages = self.messages, []
        if not messages:
            return None
        return await self.send_mail(recipient_id, messages)

    async def send_mail(self, conversation: str, messages: Sequence[Dict[str, Any]]) -> bool:
        identity = ids.parse(conversation)
        thread = self.state.get_thread(conversation) if identity and identity.channel == ids.MAIL else None
        if thread is None:
            logger.warning("e-mail: no thread for conversation %s, reply not sent", ids.for_log(conversation))
            self.state.record_delivery(CHANNEL, conversation, False, 0, "no e-mail thread for this conversation")
            return False
        if not Limits(self.state.engine).allow(REPLY_LIMIT, ids.keyed_hash(thread.address, "mail-recipient")):
            logger.warning("e-mail: %d replies to one address this hour, no more", MAX_REPLIES_PER_HOUR)
            self.state.record_delivery(CHANNEL, conversation, False, 0, "reply limit per recipient reached")
            return False
        mail, options = build_reply(self.config.address, thread, messages)

        async def send() -> Any:
            try:
                return await aiosmtplib.send(
                    mail,
                    hostname=self.config.smtp_host,
                    port=self.config.smtp_port,
                    username=self.config.smtp_user or None,
                    password=self.config.smtp_password or None,
                    use_tls=self.config.smtp_port == 465,
                    start_tls=False if self.config.smtp_port == 465 else self.config.smtp_starttls,
                    timeout=30,
                )
            except aiosmtplib.SMTPRecipientsRefused as error:
                raise PermanentSendError(f"recipient refused: {redact(str(error))}") from error
            except aiosmtplib.SMTPResponseException as error:
                if 500 <= error.code < 600:
                    raise PermanentSendError(f"SMTP {error.code}: {redact(error.message)}") from error
                raise

        sent = await send_with_retry(send, channel=CHANNEL, recipient=thread.address,
                                     base_delay=self.retry_delay, state=self.state)
        if sent is None:
            return False
        # a reply to this mail continues the conversation; the next mail of
        # the thread (an agent's push) follows it
        self.state.remember_mail(mail["Message-ID"], conversation)
        self.state.save_thread(Thread(thread.conversation_id, thread.address, thread.subject,
                                      mail["Message-ID"], references_after(thread.references, mail["Message-ID"])))
        self.state.put_token(options_key(conversation), json.dumps(options, ensure_ascii=False),
                             utcnow() + BUTTONS_TTL)
        return True


def options_key(conversation: str) -> str:
    return f"email-options:{conversation}"[:64]

"""The poller Rasa runs: :class:`MailInput`, named in credentials.yml as
``channels.mail.MailInput``.

While Rasa's server runs, it reads the UNSEEN mails of INBOX every
``poll_seconds`` (:class:`~channels.mail.imap.ImapMailbox` in a worker
thread) and makes each one turn of the dialogue; every bot answer to one
incoming mail goes back in ONE reply mail
(:class:`~channels.mail.output.MailOutput`).

Conversations. A conversation is one thread with one participant. A mail
continues a conversation only when it replies to a Message-ID the shop
itself sent in it (``email_messages``: unguessable ids of ours, where the
shopper's own ids may be known to anyone CC'd) AND comes from the address
that conversation answers; anything else starts a new conversation,
``mail:<keyed hash of the mail's Message-ID and From>``, so a proof of
ownership never carries to a new participant. Replies go to the From
address only, never to a ``Reply-To`` (which would let anyone make the shop
mail a third party), and at most ``MAX_REPLIES_PER_HOUR`` to one address.
The address is never passed to the dialogue and never links the
conversation to a shop customer: a From header can be forged, so an e-mail
shopper proves an order with the order id and the phone digits like anyone
else.

Repeats. Each mail is claimed by Message-ID in the shared ``message_claims``
table before its turn runs, so it is answered once across polls, processes
and restarts.

Photos. The image attachments of a mail become evidence of its conversation
(:mod:`kefu.evidence.intake`) before the claim, and only for a mail not
claimed yet: a crash between the intake and the claim leaves the mail
unclaimed and unseen, so the next poll handles it, and the intake's own
dedupe (the same photo in a conversation is recorded once) keeps that second
intake from recording anything twice. Then Rasa hears ``/send_photo`` once
per kept photo, then the mail's text; a refused photo gets one polite line
in the same reply mail.

Failure decision. The claim is final once the turn has run: feeding the same
mail to the dialogue twice would, for example, count one wrong phone-digit
guess twice. When the reply cannot be sent (``send_with_retry`` gave up), the
failure is recorded in ``deliveries`` and the incoming mail is flagged
``\\Flagged`` in INBOX, so nothing is lost: an agent sees the flagged mail
and can answer through Rasa's API (``output_channel=latest`` uses
:meth:`MailInput.get_output_channel`, which finds the thread's subject and
references in ``email_threads``).

Buttons. The options a reply offered are kept per conversation
(``channel_tokens``, 7 days) so that a reply "2" or the option's words sends
the button's payload back as the user message.
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.edge import user_message
from channels.mail.config import CHANNEL, MailConfig
from channels.mail.imap import ImapMailbox
from channels.mail.output import MailOutput, options_key
from channels.mail.parse import (
    IncomingMail,
    match_option,
    parse_mail,
    references_after,
    reply_subject,
    short_hash,
    strip_re,
)
from kefu.core import ids, responses
from kefu.core import text as texts
from kefu.core.privacy import redact
from kefu.evidence.intake import PHOTO_TEXT, Refused, intake, refusal
from kefu.state import ChannelState, Thread, channel_state

# one logger for the whole channel, named as before the split into modules
logger = logging.getLogger("channels.mail")

#: longer texts (after quote stripping) are not given to the dialogue
MAX_TEXT_CHARS = 4000

# What the connector answers by itself (a mail does not tell its language:
# both, one per line), from the responses of domain.yml.
TOO_LONG_REPLY = responses.both("utter_notice_mail_too_long", separator="\n")
EMPTY_REPLY = responses.both("utter_notice_mail_empty", separator="\n")
TOO_LARGE_REPLY = responses.both("utter_notice_mail_too_large", separator="\n")


def conversation_id(message_id: str, sender: str) -> ids.Identity:
    """A new conversation for a mail that continues none of ours: keyed by
    its own Message-ID and its sender, so nobody else can land in it."""
    return ids.Identity(ids.MAIL, ids.keyed_hash(f"{message_id}\x00{sender}", "mail-thread"))


class MailInput(InputChannel):
    """Polls the shop's mailbox while Rasa's server runs."""

    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "MailInput":
        credentials = credentials or {}
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(MailConfig.from_credentials(credentials))

    def __init__(self, config: MailConfig, state: Optional[ChannelState] = None, retry_delay: float = 0.5) -> None:
        self.config = config
        self._state = state
        self.retry_delay = retry_delay
        self._task: Optional[asyncio.Task] = None
        self._stop: Optional[asyncio.Event] = None

    @property
    def state(self) -> ChannelState:
        return self._state or channel_state()

    def get_output_channel(self) -> OutputChannel:
        """For replies pushed later (an agent, a reminder): one mail per
        message, in the conversation's saved thread."""
        return MailOutput(self.config, collect=False, state=self._state, retry_delay=self.retry_delay)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        mail_webhook = Blueprint("email_webhook", __name__)

        @mail_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            running = self._task is not None and not self._task.done()
            return response.json({"status": "ok", "polling": running})

        # after_server_start, not before: Rasa loads the agent in a
        # before_server_start listener registered after the channels', so
        # only now can a polled mail be handled.
        @mail_webhook.listener("after_server_start")
        async def start_polling(_app: Any, _loop: Any) -> None:
            self.start(on_new_message)

        @mail_webhook.listener("before_server_stop")
        async def stop_polling(_app: Any, _loop: Any) -> None:
            await self.stop()

        return mail_webhook

    def start(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        if self._task is None or self._task.done():
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._poll_forever(on_new_message))
            logger.info("e-mail poller started (every %.1f s)", self.config.poll_seconds)

    async def stop(self) -> None:
        """Let the current poll finish (a turn is never cut in half), then
        end; cancelled if it hangs."""
        if self._task is None:
            return
        assert self._stop is not None
        self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=60)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            self._task.cancel()
        except Exception:
            logger.exception("e-mail poller ended with an error")
        self._task = None
        logger.info("e-mail poller stopped")

    async def _poll_forever(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        assert self._stop is not None
        while not self._stop.is_set():
            try:
                await self.poll_once(on_new_message)
            except Exception as error:  # the mailbox may be down for a while
                logger.warning("e-mail poll failed: %s", redact(str(error)))
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.config.poll_seconds)
            except asyncio.TimeoutError:
                pass

    async def poll_once(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> int:
        """Handle the UNSEEN mails of INBOX; returns how many were answered."""
        mailbox = ImapMailbox(self.config)
        await asyncio.to_thread(mailbox.open)
        answered = 0
        try:
            for uid in await asyncio.to_thread(mailbox.unseen):
                if self._stop is not None and self._stop.is_set():
                    break
                raw, too_large = await asyncio.to_thread(mailbox.fetch, uid)
                if raw is None:
                    continue
                flags = await self.handle_mail(raw, on_new_message, too_large=too_large)
                if flags is True:
                    answered += 1
                await asyncio.to_thread(mailbox.flag, uid, "\\Seen" if flags is not False else "\\Seen \\Flagged")
        finally:
            await asyncio.to_thread(mailbox.close)
        return answered

    async def handle_mail(self, raw: bytes, on_new_message: Callable[[UserMessage], Awaitable[Any]],
                          too_large: bool = False) -> Optional[bool]:
        """One mail: True when answered, False when the answer (or the turn)
        failed and an agent must look, None when it needs no answer."""
        mail = parse_mail(raw, self.config.address, intake().max_bytes)
        key = short_hash(mail.message_id)
        if mail.skip:
            logger.info("e-mail %s not answered: %s", key, mail.skip)
            return None
        if self.state.is_claimed(CHANNEL, mail.message_id):  # before the intake: a re-delivery records nothing
            logger.info("e-mail %s already handled", key)
            return None
        identity = self.conversation_for(mail)
        conversation = identity.conversation_id
        accepted, refusals = (0, []) if too_large else await self.take_photos(conversation, mail)
        if not self.state.claim_message(CHANNEL, mail.message_id):
            logger.info("e-mail %s already handled", key)
            return None
        self.state.save_thread(Thread(conversation, mail.sender, reply_subject(mail.subject),
                                      mail.message_id, references_after(mail.references, mail.message_id)))
        output = MailOutput(self.config, collect=True, state=self._state, retry_delay=self.retry_delay)
        for line in refusals:  # first in the reply: they answer the attachments, which come first
            await output.send_text_message(conversation, line)
        messages, polite = self._turns(identity, mail, key, output, too_large, accepted)
        if polite is not None:
            await output.send_text_message(conversation, polite)
        if not messages:  # answered, but the conversation is not touched
            return await output.flush(conversation) is not False
        try:
            for message in messages:
                await on_new_message(message)
        except Exception:  # the mail is flagged for an agent
            logger.exception("e-mail %s: the turn failed", key)
            output.messages.clear()
            self.state.record_delivery(CHANNEL, conversation, False, 0, "the dialogue failed on this mail")
            return False
        sent = await output.flush(conversation)
        return sent is not False

    def _turns(self, identity: ids.Identity, mail: IncomingMail, key: str, output: MailOutput,
               too_large: bool, photos: int) -> Tuple[List[UserMessage], Optional[str]]:
        """What Rasa hears of this mail (``/send_photo`` per kept photo, then
        the text) and the polite line the connector adds by itself, if any.
        A mail that is only photos says nothing else: no "empty mail" line."""
        conversation = identity.conversation_id
        messages = [user_message(identity, PHOTO_TEXT, output, connector=CHANNEL,
                                 metadata={"email": {"message": key, "photo": True}}) for _ in range(photos)]
        if too_large:
            return messages, TOO_LARGE_REPLY
        # a first mail may say it all in its subject ("订单2611010000000001到哪了")
        text = mail.text or ("" if mail.references or mail.photos else strip_re(mail.subject))
        if not text and mail.photos:
            return messages, None
        payload = match_option(text, self._options(conversation))
        try:
            messages.append(user_message(identity, payload or text, output, connector=CHANNEL,
                                         max_chars=MAX_TEXT_CHARS,
                                         metadata={"email": {"message": key, "option": payload is not None}}))
        except texts.BadText as bad:
            return messages, TOO_LONG_REPLY if bad.reason == "too_long" else EMPTY_REPLY
        return messages, None

    async def take_photos(self, conversation: str, mail: IncomingMail) -> Tuple[int, List[str]]:
        """Hand the mail's photos to the intake (in a worker thread: it
        decodes images and writes files): how many were kept, and the polite
        line for each one refused, here or by the intake."""
        photos = mail.photos
        limit = intake().max_bytes
        reasons = list(photos.refused) + (["too_many"] if photos.ignored else [])
        if photos.ignored:
            logger.info("e-mail %s: %d photos past the %d of a mail ignored",
                        short_hash(mail.message_id), photos.ignored, len(photos.kept) + len(photos.refused))
        accepted = 0
        for data in photos.kept:
            try:
                await asyncio.to_thread(intake().receive, conversation, CHANNEL, data)
                accepted += 1
            except Refused as refused:
                reasons.append(refused.reason)
            except Exception as error:  # the evidence store is away: the shopper may send it again
                logger.warning("e-mail %s: photo intake failed for %s: %s", short_hash(mail.message_id),
                               ids.for_log(conversation), type(error).__name__)
                reasons.append("unavailable")
        if reasons:
            logger.info("e-mail %s: %d photos kept, refused: %s", short_hash(mail.message_id), accepted,
                        ", ".join(reasons))
        return accepted, [refusal(reason, limit) for reason in reasons]

    def conversation_for(self, mail: IncomingMail) -> ids.Identity:
        """The conversation this mail continues (it replies to a mail the
        shop sent there, from the address that conversation answers), else
        a new one of its own."""
        known = self.state.conversation_of_mail(mail.parents())
        if known is not None:
            thread = self.state.get_thread(known)
            if thread is not None and thread.address == mail.sender:
                return ids.parse(known) or conversation_id(mail.message_id, mail.sender)
            logger.info("e-mail %s: another participant in a thread, a conversation of its own",
                        short_hash(mail.message_id))
        return conversation_id(mail.message_id, mail.sender)

    def _options(self, conversation: str) -> List[Dict[str, str]]:
        try:
            return json.loads(self.state.get_token(options_key(conversation), margin=timedelta(0)) or "[]")
        except ValueError:
            return []

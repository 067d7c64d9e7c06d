"""The outbox's delivery loop: takes due notifications, applies the rules,
and has Rasa say each one in its conversation.

A notification is said by ``action_notify`` run through Rasa's
``POST /conversations/<id>/execute`` on the conversation's own connector: the
words come from domain.yml in the shopper's language, the message lands in
the tracker (so a reply continues with the order in context) and goes out
through the same output channel as any answer (WeChat customer-service
message, Telegram, the e-mail thread, the widget's room).

Steps for each notification, in order: opted out -> skipped; quiet hours ->
pending until they end; the day's cap reached -> pending until tomorrow; a
web conversation whose page is closed -> waiting for the next visit; then
delivery, with a retry schedule that backs off, and its outcome recorded.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Dict, Optional
from zoneinfo import ZoneInfo

from kefu.core import ids
from kefu.core.clock import utcnow
from kefu.core.config import NotifyOptions
from kefu.desk.rasa import RasaClient, RasaError
from kefu.notify.policy import NotifyPolicy, day_bounds, parse_quiet_hours, quiet_until, retry_delay
from kefu.store.notify import NotificationView, NotifyStore

logger = logging.getLogger(__name__)

ACTION = "action_notify"
#: Kefu channel -> the Rasa connector that speaks on it (REST cannot push)
CONNECTOR = {channel: connector for connector, channel in ids.CONNECTORS.items() if channel != ids.REST}
LEASE = timedelta(minutes=2)


@dataclass(frozen=True)
class Outcome:
    status: str  # what NotifyStore.finish records
    reason: Optional[str] = None
    retry_at: Optional[datetime] = None
    error: Optional[str] = None


class Dispatcher:
    def __init__(self, store: NotifyStore, rasa: RasaClient, policy: NotifyPolicy,
                 page_open: Callable[[str], Awaitable[bool]], clock: Callable[[], datetime] = utcnow) -> None:
        self.store, self.rasa, self.policy, self.page_open, self.clock = store, rasa, policy, page_open, clock

    async def run_once(self) -> int:
        """Deliver what is due now; how many were handled."""
        now = self.clock()
        batch = await asyncio.to_thread(self.store.claim_due, now, LEASE)
        for notification in batch:
            outcome = await self.deliver(notification, now)
            await asyncio.to_thread(self.store.finish, notification.id, outcome.status, reason=outcome.reason,
                                    error=outcome.error, retry_at=outcome.retry_at, now=self.clock())
        return len(batch)

    async def deliver(self, notification: NotificationView, now: datetime) -> Outcome:
        conversation = notification.conversation_id or ""
        identity = ids.parse(conversation)
        if identity is None or identity.channel not in CONNECTOR:
            return Outcome("skipped", "channel_cannot_push")
        held = await self._held(notification, identity, now)
        if held is not None:
            return held
        try:
            answer = await self._execute(conversation, CONNECTOR[identity.channel])
        except RasaError as error:
            return self._retry(notification, now, str(error))
        if "messages" in answer:  # Rasa had no such connector: it collected the words instead of sending
            return Outcome("failed", "channel_off", error=f"{identity.channel} is not configured")
        return Outcome("sent")

    async def _execute(self, conversation: str, connector: str) -> Dict[str, Any]:
        try:
            return await self.rasa.execute(conversation, ACTION, output_channel=connector)
        except RasaError as error:
            if error.status != 404:  # 404: a linked identity that has never written
                raise
        await self.rasa.start_conversation(conversation)
        return await self.rasa.execute(conversation, ACTION, output_channel=connector)

    async def _held(self, notification: NotificationView, identity: ids.Identity, now: datetime) -> Optional[Outcome]:
        """Why it may not go now, or None."""
        if await asyncio.to_thread(self.store.opted_out, identity.conversation_id, notification.customer_id):
            return Outcome("skipped", "opted_out")
        quiet_end = quiet_until(self.policy, now)
        if quiet_end is not None:
            return Outcome("pending", "quiet_hours", retry_at=quiet_end)
        start, tomorrow = day_bounds(self.policy, now)
        sent = await asyncio.to_thread(self.store.sent_between, notification.customer_id, start, tomorrow)
        if sent >= self.policy.daily_cap:
            return Outcome("pending", "daily_cap", retry_at=tomorrow)
        if identity.channel == ids.WEB and not await self.page_open(identity.conversation_id):
            return Outcome("waiting", "page_closed")
        return None

    def _retry(self, notification: NotificationView, now: datetime, error: str) -> Outcome:
        delay = retry_delay(self.policy, notification.attempts)
        if delay is None:
            return Outcome("failed", "attempts_used", error=error)
        return Outcome("pending", "retrying", retry_at=now + delay, error=error)

    async def stalls(self, older_than: timedelta) -> int:
        """Queue "no movement" news for parcels stuck longer than ``older_than``."""
        events = await asyncio.to_thread(self.store.stalled_shipments, older_than, self.clock())
        queued = 0
        for event in events:
            queued += await asyncio.to_thread(self.store.record_event, event, self.clock()) is not None
        return queued


def policy_from(options: NotifyOptions, zone: ZoneInfo) -> NotifyPolicy:
    """The rules as the settings give them, in the shop's time zone."""
    return NotifyPolicy(zone=zone, quiet=parse_quiet_hours(options.quiet_hours),
                        daily_cap=options.daily_cap, max_attempts=options.max_attempts,
                        first_retry_seconds=options.first_retry_seconds)


async def run_forever(dispatcher: Dispatcher, options: NotifyOptions) -> None:
    """The desk's background task: deliver every ``poll_seconds``, look for
    stalled parcels every minute; an error is logged and the loop goes on."""
    last_stall_check = 0.0
    loop = asyncio.get_running_loop()
    while True:
        try:
            await dispatcher.run_once()
            if loop.time() - last_stall_check >= 60:
                last_stall_check = loop.time()
                await dispatcher.stalls(timedelta(hours=options.delay_hours))
        except asyncio.CancelledError:
            raise
        except Exception:  # the database or Rasa down for a moment: try again next round
            logger.exception("notification dispatch failed; trying again")
        await asyncio.sleep(options.poll_seconds)

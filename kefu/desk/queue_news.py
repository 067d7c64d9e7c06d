"""Telling waiting shoppers where they stand, from the desk process.

Every few seconds the desk asks the store which waiting shoppers moved up
the queue or waited past their estimate (kefu/store/desk/waiting.py, each
told once) and has Rasa run the matching action in their conversation, on
the channel they used: the words come from domain.yml in their language.
"""
from __future__ import annotations

import asyncio
import logging

from kefu.core.names import QUEUE_LATE_ACTION, QUEUE_MOVED_ACTION
from kefu.desk.rasa import RasaClient, RasaError
from kefu.store.desk import DeskStore

logger = logging.getLogger(__name__)

ACTIONS = {"moved": QUEUE_MOVED_ACTION, "late": QUEUE_LATE_ACTION}


async def tell_once(store: DeskStore, rasa: RasaClient) -> int:
    """Send what is due now; how many shoppers were told."""
    told = 0
    for news in await asyncio.to_thread(store.queue_news):
        try:
            await rasa.execute(news.wait.conversation_id, ACTIONS[news.kind])
            told += 1
        except RasaError as error:  # a missed update is not worth a retry: the next one says it all
            logger.warning("queue news for handoff %s not sent: %s", news.wait.handoff_id, error)
    return told


async def run_forever(store: DeskStore, rasa: RasaClient, every: float) -> None:
    while True:
        try:
            await tell_once(store, rasa)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database away for a moment: next round
            logger.exception("queue news failed; trying again")
        await asyncio.sleep(every)

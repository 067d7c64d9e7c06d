"""The one way a photo a connector received becomes evidence.

Every connector does the same after it has verified who sent the photo and
fetched its bytes (the widget's upload, WeChat's media id, Telegram's file
id, an e-mail attachment): ``intake().receive(...)`` checks and cleans the
photo (:mod:`kefu.evidence.images`), keeps it and its thumbnail in the
storage the settings pick, and records it under the conversation. Then the
connector hands :data:`PHOTO_TEXT` to Rasa through ``channels.edge``, so the
dialogue hears "a photo came" (the form counts what is waiting) and never
sees bytes, names or URLs from outside.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from kefu.core.config import EvidenceOptions, load_settings
from kefu.core.names import PHOTO_INTENT
from kefu.evidence import images
from kefu.evidence.images import Refused
from kefu.evidence.storage import EvidenceStorage, open_storage
from kefu.evidence.storage.interface import key_for
from kefu.store.evidence import EvidenceStore, NewPhoto, TooMany
from kefu.store.limits import PHOTOS_PER_CLIENT, Limits

#: what Rasa hears when a photo came: the ``send_photo`` intent, from the connector only
PHOTO_TEXT = f"/{PHOTO_INTENT}"
#: the polite answer to a refused photo: ``utter_photo_<reason>`` in domain.yml
REASONS = ("too_big", "not_image", "too_many", "unavailable")


@dataclass(frozen=True)
class Received:
    evidence_id: str
    waiting: int  # photos waiting in the conversation for its request, this one included
    duplicate: bool


class Intake:
    def __init__(self, storage: EvidenceStorage, store: EvidenceStore, options: EvidenceOptions) -> None:
        self.storage = storage
        self.store = store
        self.options = options

    @property
    def max_bytes(self) -> int:
        return self.options.max_bytes

    def receive(self, conversation_id: str, channel: str, data: bytes, client: Optional[str] = None) -> Received:
        """Keep the photo ``data`` the conversation sent (blocking: call it
        in a thread); :class:`Refused` with the reason otherwise. ``client``
        (a keyed client address, for a channel whose sessions anyone can
        open, like the widget's) is counted first: fresh sessions from one
        address cannot fill the storage or keep the decoder busy."""
        if client is not None and not Limits(self.store.engine).allow(PHOTOS_PER_CLIENT, client):
            raise Refused("too_many")
        image = images.clean(data, self.options.max_bytes)
        if not self.store.has_room(conversation_id, image.sha256):
            raise Refused("too_many")  # before anything is stored; a photo sent again is never refused
        full = key_for(image.sha256, image.extension)
        thumbnail = key_for(image.sha256, "jpg", thumbnail=True)
        try:
            self.storage.put(full, image.data, image.content_type)
            self.storage.put(thumbnail, image.thumbnail, "image/jpeg")
        except Exception as error:  # the storage is away: the shopper may try again later
            raise Refused("unavailable") from error
        try:
            recorded = self.store.record(conversation_id, channel, NewPhoto(
                sha256=image.sha256, content_type=image.content_type, size=len(image.data),
                width=image.width, height=image.height, storage_key=full, thumbnail_key=thumbnail))
        except TooMany:
            raise Refused("too_many") from None
        return Received(recorded.evidence.id, recorded.waiting, recorded.duplicate)


def refusal(reason: str, max_bytes: int, language: Optional[str] = None) -> str:
    """The polite answer to a refused photo, in ``language`` or, when the
    connector cannot know it, in both."""
    from kefu.core import responses

    name = f"utter_photo_{reason if reason in REASONS else 'unavailable'}"
    max_mb = max(1, max_bytes // 1_000_000)
    if language in ("zh", "en"):
        return responses.text(name, language, max_mb=max_mb)
    return responses.both(name, max_mb=max_mb)


def build(options: EvidenceOptions, database_url: str) -> Intake:
    from kefu.store.db import make_engine

    return Intake(open_storage(options), EvidenceStore(make_engine(database_url), options.max_photos), options)


@lru_cache(maxsize=1)
def intake(database_url: Optional[str] = None) -> Intake:
    """This process's intake, from its settings."""
    settings = load_settings()
    return build(settings.evidence, database_url or settings.database_url)


__all__ = ["PHOTO_TEXT", "REASONS", "Intake", "Received", "Refused", "build", "intake", "refusal"]

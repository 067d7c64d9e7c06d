"""Typed keys of the desk app's shared objects."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:  # pragma: no cover
    from kefu.desk.live import Hub
    from kefu.desk.rasa import RasaClient
    from kefu.desk.settings import DeskSettings
    from kefu.evidence.access import EvidenceAccess
    from kefu.store.desk import DeskStore
    from kefu.store.notify import NotifyStore
    from kefu.store.shop import ShopStore

SETTINGS: "web.AppKey[DeskSettings]" = web.AppKey("settings")
STORE: "web.AppKey[DeskStore]" = web.AppKey("store")
SHOP: "web.AppKey[ShopStore]" = web.AppKey("shop")
RASA: "web.AppKey[RasaClient]" = web.AppKey("rasa")
HUB: "web.AppKey[Hub]" = web.AppKey("hub")
NOTIFY: "web.AppKey[NotifyStore]" = web.AppKey("notify")
#: the photo evidence: its records, its storage, the key that signs links (kefu/desk/evidence.py)
EVIDENCE: "web.AppKey[EvidenceAccess]" = web.AppKey("evidence")

"""The shopper's photo evidence in the desk: signed links in a handoff's
detail, and the one route that serves the photos.

An agent gets links only in the detail of a handoff they may see
(``_visible_handoff`` in kefu/desk/app.py), each signed for one photo and
one variant and expiring after ``KEFU_EVIDENCE_LINK_SECONDS``
(kefu/evidence/links.py). ``GET /evidence/{id}/{full|thumb}`` then serves
the bytes only to a signed-in agent (401, as ``/api/``), for a genuine,
current link of that very photo and variant (403), of a photo that is there
(404). A photo id alone opens nothing, and a link copied out of the desk
opens nothing without a desk session, and nothing at all minutes later.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List

from aiohttp import web

from kefu.core.clock import utcnow
from kefu.desk import keys
from kefu.desk.http import error, run
from kefu.evidence import links
from kefu.evidence.access import EvidenceAccess
from kefu.evidence.storage import Missing
from kefu.store.evidence import EvidenceView

logger = logging.getLogger(__name__)

PREFIX = "/evidence/"
#: ids are 32 random hex digits (kefu/store/evidence.py); anything else is no photo
ROUTE = PREFIX + "{evidence_id:[0-9a-f]{32}}/{variant:full|thumb}"
#: what the intake stores (kefu/evidence/images.py); anything else is served as plain bytes
SHOWN_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})


def now() -> float:
    """The wall clock, in seconds since the epoch, as links count it."""
    return utcnow().timestamp()


def photos(evidence: EvidenceAccess, conversation_id: str) -> List[Dict[str, Any]]:
    """Every photo of the conversation with fresh links, oldest first
    (blocking). Only for a handoff the agent may see."""
    moment = now()

    def signed(view: EvidenceView, variant: str) -> str:
        return links.link(view.id, variant, moment, evidence.link_seconds, evidence.key)

    return [{
        "id": view.id,
        "thumb": signed(view, "thumb"),
        "full": signed(view, "full"),
        "content_type": view.content_type,
        "width": view.width,
        "height": view.height,
        "size": view.size,
        "created_at": view.created_at.isoformat(),
        "aftersale_id": view.aftersale_id,
        "ticket_id": view.ticket_id,
    } for view in evidence.store.of_conversation(conversation_id)]


# -- the route ------------------------------------------------------------------------------


async def serve(request: web.Request) -> web.StreamResponse:
    evidence: EvidenceAccess = request.app[keys.EVIDENCE]
    evidence_id, variant = request.match_info["evidence_id"], request.match_info["variant"]
    expires, sig = request.query.get("expires"), request.query.get("sig")
    moment = now()
    if not links.valid(evidence_id, variant, expires, sig, moment, evidence.link_seconds, evidence.key):
        return error(403, "bad_link")
    view = await run(evidence.store.get, evidence_id)
    if view is None:
        return error(404, "not_found")
    key, content_type = (view.thumbnail_key, "image/jpeg") if variant == "thumb" else \
        (view.storage_key, view.content_type)
    try:
        data = await run(evidence.storage.get, key)
    except (Missing, ValueError):  # ValueError: a record whose key is no content address
        logger.warning("evidence %s: its %s is missing from the storage", evidence_id, variant)
        return error(404, "not_found")
    except Exception as failure:  # the object store is away
        logger.warning("evidence %s: storage unavailable (%s)", evidence_id, type(failure).__name__)
        return error(503, "storage_unavailable")
    remaining = max(0, int(expires or 0) - int(moment))  # valid() checked expires is digits
    return web.Response(body=data, headers={
        "Content-Type": content_type if content_type in SHOWN_TYPES else "application/octet-stream",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
        "Cache-Control": f"private, max-age={remaining}",
        "Content-Disposition": "inline",
        "Cross-Origin-Resource-Policy": "same-origin",
    })


def register(app: web.Application) -> None:
    app.router.add_get(ROUTE, serve)

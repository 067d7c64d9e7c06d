"""The trainers' loop: the messages the bot misunderstood (fell back on, or
was less than 60 % sure of), labelled with the right intent, exported as Rasa
NLU YAML to add under ``data/nlu/`` before retraining.

Statuses: ``new`` → ``labelled`` (an intent chosen) or ``ignored`` (noise,
not worth an example) → ``exported`` (written out with ``mark_exported``).
"""
from __future__ import annotations

import re
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

import yaml
from sqlalchemy import select
from sqlalchemy.engine import Engine

from kefu.core.clock import from_db, to_db, utcnow
from kefu.core.config import PROJECT_ROOT
from kefu.store.db import session_scope
from kefu.store.models import MisunderstoodMessage

STATUSES = ("new", "labelled", "ignored", "exported")
_RETRIEVAL = re.compile(r"^- intent:\s*([A-Za-z0-9_]+/[A-Za-z0-9_]+)\s*$", re.M)
_NAME = re.compile(r"^[A-Za-z0-9_]+(/[A-Za-z0-9_]+)?$")


def known_intents(root: Path = PROJECT_ROOT) -> List[str]:
    """The labels a trainer may choose: the domain's intents and the
    retrieval sub-intents found in ``data/nlu``."""
    names: List[str] = []
    domain = root / "domain.yml"
    if domain.exists():
        names = [str(i if isinstance(i, str) else next(iter(i))) for i in
                 (yaml.safe_load(domain.read_text(encoding="utf-8")) or {}).get("intents", [])]
    subs = set()
    for path in sorted((root / "data" / "nlu").glob("*.yml")) if (root / "data" / "nlu").exists() else []:
        subs.update(_RETRIEVAL.findall(path.read_text(encoding="utf-8")))
    return names + sorted(subs)


def _view(m: MisunderstoodMessage) -> Dict[str, Any]:
    return {"id": m.id, "text": m.text, "predicted_intent": m.predicted_intent, "confidence": m.confidence,
            "reason": m.reason, "channel": m.channel, "created_at": from_db(m.created_at), "status": m.status,
            "label": m.label, "labelled_by": m.labelled_by, "labelled_at": from_db(m.labelled_at),
            "exported_at": from_db(m.exported_at)}


def misunderstood(engine: Engine, status: Optional[str] = None, start: Optional[datetime] = None,
                  end: Optional[datetime] = None, limit: int = 500) -> List[Dict[str, Any]]:
    """Newest first; ``status`` one of :data:`STATUSES` (or None: all)."""
    query = select(MisunderstoodMessage)
    if status:
        query = query.where(MisunderstoodMessage.status == status)
    if start is not None:
        query = query.where(MisunderstoodMessage.created_at >= start)
    if end is not None:
        query = query.where(MisunderstoodMessage.created_at < end)
    with session_scope(engine) as s:
        rows = s.execute(query.order_by(MisunderstoodMessage.created_at.desc(), MisunderstoodMessage.id.desc())
                         .limit(limit)).scalars()
        return [_view(m) for m in rows]


def label(engine: Engine, message_id: int, intent: Optional[str], agent_id: Optional[int] = None,
          ignore: bool = False) -> Optional[Dict[str, Any]]:
    """Label a message with ``intent`` (or ignore it; or clear it with
    neither). None when there is no such message. ValueError for a bad name."""
    if intent is not None and not _NAME.match(intent):
        raise ValueError("not an intent name")
    with session_scope(engine) as s:
        m = s.get(MisunderstoodMessage, message_id)
        if m is None:
            return None
        if ignore:
            m.status, m.label = "ignored", None
        elif intent:
            m.status, m.label = "labelled", intent
        else:
            m.status, m.label = "new", None
        m.labelled_by, m.labelled_at = agent_id, to_db(utcnow())
        m.exported_at = None
        s.flush()
        return _view(m)


def _clean(text: str) -> str:
    return " ".join((text or "").split())


def nlu_yaml(examples: Iterable[tuple]) -> str:
    """Rasa NLU YAML (version 3.1) for (intent, text) pairs, grouped by
    intent, duplicates dropped."""
    grouped: "OrderedDict[str, List[str]]" = OrderedDict()
    for intent, text in sorted(examples, key=lambda x: x[0]):
        text = _clean(text)
        if text and text not in grouped.setdefault(intent, []):
            grouped[intent].append(text)
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in grouped.items():
        if not texts:
            continue
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        lines.extend(f"    - {t}" for t in texts)
    if len(lines) == 2:
        lines[-1] = "nlu: []"
    return "\n".join(lines) + "\n"


def export(engine: Engine, include_exported: bool = False, mark_exported: bool = False) -> str:
    """The labelled messages (and, with ``include_exported``, those exported
    before) as NLU YAML; ``mark_exported`` moves them to ``exported``."""
    statuses = ("labelled", "exported") if include_exported else ("labelled",)
    with session_scope(engine) as s:
        rows = s.execute(select(MisunderstoodMessage).where(MisunderstoodMessage.status.in_(statuses),
                                                            MisunderstoodMessage.label.is_not(None))
                         .order_by(MisunderstoodMessage.id)).scalars().all()
        text = nlu_yaml((m.label, m.text) for m in rows)
        if mark_exported:
            now = to_db(utcnow())
            for m in rows:
                m.status, m.exported_at = "exported", now
    return text

"""Showing photo evidence to those allowed to see it (the agent desk): the
records, the storage and the key of its signed links, opened once."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy.engine import Engine

from kefu.core.config import EvidenceOptions
from kefu.core.secrets import secret
from kefu.evidence.storage import EvidenceStorage, open_storage
from kefu.store.evidence import EvidenceStore


@dataclass(frozen=True)
class EvidenceAccess:
    """What showing photos to agents takes: the records, the storage, how
    long a link lives and the key that signs it."""

    store: EvidenceStore
    storage: EvidenceStorage
    link_seconds: int
    key: str = field(repr=False)


def open_access(options: EvidenceOptions, engine: Engine, key: Optional[str] = None) -> EvidenceAccess:
    """The storage the settings pick and the link key (blocking: the key
    may be read from, or generated into, ``var/secrets``)."""
    return EvidenceAccess(EvidenceStore(engine, options.max_photos), open_storage(options), options.link_seconds,
                          key if key is not None else secret("evidence_link_key"))

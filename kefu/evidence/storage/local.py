"""Photo evidence in a local directory (``KEFU_EVIDENCE_DIR``, var/evidence by default)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from kefu.evidence.storage.interface import Missing, checked


class LocalStorage:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.directory / checked(key)
        if path.exists():  # content-addressed: the same key holds the same bytes
            return
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")  # one per writer, threads included
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(draft, path)  # never a half-written photo under its key
        finally:
            draft.unlink(missing_ok=True)

    def get(self, key: str) -> bytes:
        try:
            return (self.directory / checked(key)).read_bytes()
        except FileNotFoundError:
            raise Missing(key) from None

"""Shop-edited YAML files (routing.yml, risk.yml) read again whenever they
change, so an edit counts at the next message without a restart, and read
once otherwise (they are consulted on every handoff and message)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Tuple, TypeVar

import yaml

T = TypeVar("T")
_loaded: Dict[Tuple[Path, Callable[..., Any]], Tuple[float, Any]] = {}


def load_cached(path: Path, parse: Callable[[Mapping[str, Any]], T]) -> T:
    """``parse`` of the file's contents, parsed again only when its
    modification time changed."""
    stamp = path.stat().st_mtime
    key = (path, parse)
    cached = _loaded.get(key)
    if cached is None or cached[0] != stamp:
        cached = stamp, parse(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        _loaded[key] = cached
    return cached[1]

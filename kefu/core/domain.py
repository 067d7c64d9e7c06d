"""domain.yml as read by code outside Rasa: one cached loader.

Rasa sends its domain to the action server only for actions that declare
``send_domain`` (``enable_selective_domain`` in endpoints.yml): serialising
every response of domain.yml on every call cost more than most actions
themselves. What the action server needs of it, the sentences
(kefu.core.responses) and the forms' required slots (actions.forms), it
reads here from the same file Rasa was trained with.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

import yaml

from kefu.core.config import PROJECT_ROOT

DOMAIN = PROJECT_ROOT / "domain.yml"


@lru_cache(maxsize=4)
def load(path: Path = DOMAIN) -> Dict[str, Any]:
    """The parsed domain file (read once per process)."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def forms_and_slots(path: Path = DOMAIN) -> Dict[str, Any]:
    """The part of Rasa's domain dict a form validation action reads."""
    domain = load(path)
    return {"forms": domain.get("forms") or {}, "slots": domain.get("slots") or {}}

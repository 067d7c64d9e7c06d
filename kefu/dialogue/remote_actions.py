"""Rasa's check of what the action server answers, without re-checking the schema.

Rasa validates every action server response against its response schema
with ``jsonschema.validate``, which first validates the schema itself
against the JSON Schema meta-schema, on every call; for Rasa's schema of
all event types that was about 14 ms per call, a third of Rasa's CPU per
reply in Kefu's profile (reports/perf/profile.md). The schema is a
constant: it is checked once here, and each response is validated against
it by one prepared validator, with Rasa's own error message.

``install()`` is called by kefu/ops/rasa_server.py before Rasa starts.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Text

from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@lru_cache(maxsize=1)
def response_validator() -> Validator:
    """The validator of Rasa's action response schema, the schema checked once."""
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    """Rasa's ``RemoteAction._validate_action_result``, the schema checked once."""
    error = best_match(response_validator().iter_errors(result))  # the error jsonschema.validate raises
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result

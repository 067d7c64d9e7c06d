"""Kefu's prepared check of action server responses accepts and refuses
exactly what Rasa's own check does, with Rasa's message."""
import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from kefu.dialogue.remote_actions import validate_action_result

GOOD = [
    {"events": [{"event": "slot", "name": "order_id", "value": "2611010000000003"}],
     "responses": [{"response": "utter_ask_phone_last4"}]},
    {"events": [{"event": "followup", "name": "action_listen"}], "responses": []},
    {},
]
BAD = [
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": ["not an object"]},
]


@pytest.mark.parametrize("result", GOOD)
def test_what_rasa_accepts_is_accepted(result):
    validate(result, RemoteAction.action_response_format_spec())
    assert validate_action_result(RemoteAction("action_x", None), result) is True


@pytest.mark.parametrize("result", BAD)
def test_what_rasa_refuses_is_refused_with_rasas_message(result):
    assert RemoteAction._validate_action_result is not validate_action_result  # Rasa's own, to compare with
    with pytest.raises(ValidationError) as rasas:
        RemoteAction._validate_action_result(RemoteAction("action_x", None), result)
    with pytest.raises(ValidationError) as ours:
        validate_action_result(RemoteAction("action_x", None), result)
    assert ours.value.message == rasas.value.message
    assert "Failed to validate Action server response" in ours.value.message

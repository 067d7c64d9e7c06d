"""Rasa's rule lookup, without walking the whole conversation for every rule.

``RulePolicy._get_possible_keys`` filters all of a model's rule keys (Kefu
has about 290) against every state of the conversation, newest first, and
for each key and state re-reads the rule from its JSON key and reverses it.
A rule only constrains as many states as it is long (Kefu's are at most
four); further back every rule applies, so the filtering after that point
changes nothing but costs a pass over all keys per state: in a
conversation of twenty states, four fifths of the work, and the longer the
conversation the more (reports/perf/profile.md).

:func:`possible_keys` returns exactly what Rasa's method returns: it stops
once no key left is longer than the states already compared, and keeps each
rule's states reversed instead of rebuilding them per comparison.
``install()`` is called by kefu/ops/rasa_server.py before Rasa starts.
"""
from __future__ import annotations

from typing import Dict, List, Set, Text

from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import PREVIOUS_ACTION
from rasa.shared.core.generator import State

_REVERSED: Dict[Text, List[State]] = {}


def reversed_rule(key: Text) -> List[State]:
    """A rule's states, newest first (Rasa's rule keys are JSON lists of states)."""
    states = _REVERSED.get(key)
    if states is None:
        states = _REVERSED[key] = list(reversed(RulePolicy._rule_key_to_state(key)))
    return states


def applies(rule_state: State, conversation_state: State) -> bool:
    """Rasa's ``_is_rule_applicable`` for a turn the rule covers."""
    rule_previous_action = rule_state.get(PREVIOUS_ACTION)
    current_previous_action = conversation_state.get(PREVIOUS_ACTION)
    if not rule_previous_action and not current_previous_action:
        return True  # both start a conversation
    if not rule_previous_action or not current_previous_action:
        return False  # only one of them does
    return RulePolicy._does_rule_match_state(rule_state, conversation_state)


def possible_keys(self: RulePolicy, lookup: Dict[Text, Text], states: List[State]) -> Set[Text]:
    """Rasa's ``RulePolicy._get_possible_keys``: the rule keys whose states
    match the end of the conversation."""
    possible = set(lookup.keys())
    for turn, state in enumerate(reversed(states)):
        if all(len(reversed_rule(key)) <= turn for key in possible):
            break  # every rule left is satisfied by the turns already compared
        possible = {key for key in possible
                    if len(reversed_rule(key)) <= turn or applies(reversed_rule(key)[turn], state)}
    return possible


def install() -> None:
    RulePolicy._get_possible_keys = possible_keys

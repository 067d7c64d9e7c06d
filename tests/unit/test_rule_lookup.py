"""Kefu's rule lookup finds exactly the rules Rasa's own does, on the rules
of Kefu's trained model and conversations made of them."""
import json
import random
import tarfile
from pathlib import Path

import pytest
from rasa.core.policies.rule_policy import RulePolicy

from kefu.dialogue.rules import possible_keys

MODEL = Path(__file__).resolve().parents[2] / "models" / "kefu.tar.gz"


def rule_lookups() -> dict:
    with tarfile.open(MODEL) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("RulePolicy2/rule_policy.json"))
        return json.load(archive.extractfile(member))["lookup"]  # type: ignore[arg-type]


@pytest.mark.skipif(not MODEL.exists(), reason="no trained model: make train (make test trains first)")
def test_the_same_rules_apply_as_with_rasas_lookup():
    lookups = rule_lookups()
    rules = lookups["rules"]
    policy = RulePolicy.__new__(RulePolicy)  # Rasa's method uses no state of the policy
    pieces = [json.loads(key) for key in rules]
    generator = random.Random(7)
    found = 0
    for _ in range(400):
        # a conversation: a few rules' states one after the other, sometimes cut short
        states = [state for piece in generator.sample(pieces, generator.randint(1, 6)) for state in piece]
        states = states[: generator.randint(1, len(states))]
        for lookup in (rules, lookups["rules_for_loop_unhappy_path"]):
            ours = possible_keys(policy, lookup, states)
            assert ours == RulePolicy._get_possible_keys(policy, lookup, states)
            found += len(ours)
    assert found > 100  # the conversations do match rules, so the comparison means something

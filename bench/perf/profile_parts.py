"""The parts a py-spy stack is counted under (bench.perf.profile).

A stack belongs to the first part in PARTS any of whose markers it
contains, anywhere: the order puts the specific before the general (a JSON
dump inside the tracker store is the tracker store's cost, not "JSON").
"""
from __future__ import annotations

from typing import Tuple

PARTS: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("NLU: tokenizer (jieba)", ("kefu/nlu/tokenizer.py", "jieba/")),
    ("NLU: count-vector featurizers", ("count_vectors_featurizer.py",)),
    ("NLU: regex featurizer / extractor", ("regex_featurizer.py", "regex_entity_extractor.py")),
    ("NLU: linear intent + topic classifiers", ("kefu/nlu/linear.py", "logistic_regression_classifier.py")),
    ("NLU: language, fallback, synonyms", ("kefu/nlu/language.py", "fallback_classifier.py",
                                          "entity_synonyms.py")),
    ("NLU: graph and message plumbing", ("rasa/nlu/", "parse_message (", "_parse_message_with_graph (")),
    ("policies: TED (TensorFlow)", ("ted_policy.py", "tensorflow/", "keras/")),
    ("policies: memoization, rules, hand-off", ("memoization.py", "rule_policy.py", "kefu/dialogue/policies.py")),
    ("policies: featurizing the tracker", ("tracker_featurizers.py", "single_state_featurizer.py",
                                          "past_states (")),
    ("policies: ensemble and graph", ("rasa/core/policies/", "rasa/engine/")),
    ("tracker store (SQL / Redis)", ("tracker_store.py",)),
    ("lock store", ("lock_store.py",)),
    ("action server call (client side)", ("rasa/core/actions/action.py", "rasa/utils/endpoints.py")),
    ("NLG: templates and responses", ("rasa/core/nlg/",)),
    ("Kefu actions", ("/actions/",)),
    ("Kefu shop store", ("kefu/store/", "kefu/state/")),
    ("SQL (SQLAlchemy, sqlite3), Redis client", ("sqlalchemy/", "sqlite3", "redis/")),
    ("rasa-sdk executor", ("rasa_sdk/",)),
    ("tracker events and state", ("rasa/shared/core/trackers.py", "rasa/shared/core/events.py",
                                  "rasa/shared/core/domain.py")),
    ("HTTP server and channels (sanic, aiohttp)", ("sanic/", "aiohttp/", "channels/", "httptools", "uvloop")),
    ("asyncio event loop", ("asyncio/",)),
    ("JSON", ("json/",)),
)
OTHER = "other"


def classify(stack: str) -> str:
    """The part of one collapsed stack (``frame;frame;...``)."""
    for part, markers in PARTS:
        if any(marker in stack for marker in markers):
            return part
    return OTHER

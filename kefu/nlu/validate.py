"""`rasa data validate` with every warning treated as an error, but one.

Rasa calls a response "unused" when no story or rule names it, yet Kefu's
custom actions send many responses themselves (`utter_order_status` filled
with an order's details) so that every sentence stays in domain.yml in both
languages. A response is therefore unused only if neither the dialogue nor
the code in actions/, channels/ or kefu/ names it (connectors and the
balancer speak outside a turn through kefu.core.responses); everything else
Rasa warns about fails.
"""
from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path
from typing import AbstractSet, Dict, Iterable, List, Set

from kefu.core.config import PROJECT_ROOT
from kefu.core.names import CONNECTOR_INTENTS

_UNUSED = re.compile(r"The utterance '([^']+)' is not used in any story or rule\.")
_NO_EXAMPLES = re.compile(r"The intent '([^']+)' is listed in the domain file, but is not found in the NLU training")
_DUPLICATED_INTENTS = re.compile(r"The following duplicated intents have been found across multiple domain files: (.+)")
# Rasa's own notice on every domain load since 3.0, not about this project.
_IGNORED = ("Slot auto-fill has been removed in 3.0",)
# Responses that Rasa's built-in actions send by name.
_BUILT_IN_RESPONSES = {"utter_ask_rephrase"}


def responses_named_in_code(root: Path = PROJECT_ROOT, domain_responses: Iterable[str] = ()) -> Set[str]:
    """The responses the code names, literally (``"utter_order_status"``) or
    by a prefix it completes (``f"utter_label_{key}"`` names every
    ``utter_label_...`` of the domain)."""
    names: Set[str] = set(_BUILT_IN_RESPONSES)
    prefixes: Set[str] = set()
    for path in [*(root / "actions").rglob("*.py"), *(root / "channels").rglob("*.py"), *(root / "kefu").rglob("*.py")]:
        code = path.read_text(encoding="utf-8")
        names.update(re.findall(r"[\"'](utter_[A-Za-z0-9_/]+)[\"']", code))
        prefixes.update(re.findall(r"f[\"'](utter_[A-Za-z0-9_]+)\{", code))
    names.update(n for n in domain_responses if any(n.startswith(prefix) for prefix in prefixes))
    return names


def form_questions(domain: Dict) -> Set[str]:
    """`utter_ask_<slot>` of every slot a form requests: Rasa's form action
    sends them, no story names them."""
    return {
        f"utter_ask_{slot}"
        for form in (domain.get("forms") or {}).values()
        for slot in (form or {}).get("required_slots", [])
    }


def problems(messages: List[str], named_in_code: Set[str],
             retrieval_intents: AbstractSet[str] = frozenset()) -> List[str]:
    """The warnings that count as failures.

    Two of Rasa's warnings are about how Rasa itself works, not about the
    data: a response sent by code or by a form is not "unused", and Rasa
    merges the retrieval intents found in the NLU data into the domain
    that declares them and then reports them as "duplicated".
    """
    found = []
    for message in messages:
        if any(text in message for text in _IGNORED):
            continue
        unused = _UNUSED.search(message)
        if unused and unused.group(1) in named_in_code:
            continue
        bare = _NO_EXAMPLES.search(message)
        if bare and bare.group(1) in CONNECTOR_INTENTS:  # said by a connector, never typed
            continue
        duplicated = _DUPLICATED_INTENTS.search(message)
        if duplicated and {n.strip() for n in duplicated.group(1).split(",")} <= retrieval_intents:
            continue
        found.append(message)
    return found


def main() -> int:
    from rasa.cli.utils import validate_files
    from rasa.shared.importers.importer import TrainingDataImporter

    importer = TrainingDataImporter.load_from_config(
        str(PROJECT_ROOT / "config.yml"), str(PROJECT_ROOT / "domain.yml"), [str(PROJECT_ROOT / "data")]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            validate_files(fail_on_warnings=False, max_history=None, importer=importer)
        except SystemExit as exit_:
            if exit_.code:
                print("rasa data validate found errors (see above).", file=sys.stderr)
                return 1
    messages = sorted({str(w.message) for w in caught if issubclass(w.category, UserWarning)})
    domain = importer.get_domain()
    retrieval = {name for name, props in domain.intent_properties.items() if props.get("is_retrieval_intent")}
    named = responses_named_in_code(domain_responses=domain.responses) | form_questions(domain.as_dict())
    failures = problems(messages, named, retrieval)
    for message in failures:
        print(f"validation warning: {message}", file=sys.stderr)
    if failures:
        return 1
    print(f"Training data and domain are valid ({len(messages) - len(failures)} known notices ignored).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

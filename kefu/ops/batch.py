"""Rasa's command line run as a batch job: the cyclic garbage collector off.

Training builds millions of small objects (messages, tokens, features,
fingerprints) that mostly live until the end. Python's cyclic collector
runs every few hundred allocations and, as the objects pile up, walks all
of them again and again: about six seconds of a data-only retrain, an
eighth of it (reports/perf/training.md). Nothing in a training run waits
for a cycle to be collected; reference counting still frees everything
else at once, and the process ends with the job. It costs about 60 MB more
at the peak.

``python -m kefu.ops.batch train ...`` is ``rasa train ...``;
``kefu.ops.train`` runs it.
"""
from __future__ import annotations

import gc
import sys


def main() -> None:
    gc.disable()
    from rasa.__main__ import main as rasa

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa()


if __name__ == "__main__":
    main()

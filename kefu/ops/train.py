"""``make train``: Rasa's check of the data beside the training, not before it.

``rasa train`` first validates the domain and the data (reading all of the
YAML a first time), then trains on one core. Here ``rasa data validate``
runs in its own process on the other core while ``rasa train
--skip-validation`` trains; the model is kept only if both succeed, and a
failed check prints what Rasa said and removes the model. The same work is
done and the same data is refused; a retrain takes the longer of the two
instead of their sum (reports/perf/). The training runs as a batch job,
without the cyclic garbage collector (kefu/ops/batch.py).

Rasa trains with a fixed string-hash seed here. Rasa 3.6 adds the actions
of retrieval intents (``utter_faq``, ...) to the domain from a set, so
their order, and with it the domain's fingerprint, changed with every
process's random hash seed: the training cache never recognised the
dialogue policies' inputs and retrained them after any change to the NLU
data. With one seed the domain is the same from run to run and a data-only
change retrains the NLU pipeline alone.

``python -m kefu.ops.train [--config config.yml --domain domain.yml --data data
--out models --name kefu]``; bench/perf/training.py times it.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

from kefu.ops.commands import PYTHON

#: any fixed value will do; see the module's docstring
HASH_SEED = "0"


def train(config: Path, domain: Path, data: Path, out: Path, name: str, cwd: Optional[Path] = None) -> int:
    """Validate and train at once; the exit status of the first that failed, else 0."""
    model = out / f"{name}.tar.gz"
    sources = ["--domain", str(domain), "--data", str(data)]
    with tempfile.TemporaryFile() as log:
        check = subprocess.Popen([PYTHON, "-m", "rasa", "data", "validate", *sources, "--config", str(config)],
                                 cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        trained = subprocess.run([PYTHON, "-m", "kefu.ops.batch", "train", "--skip-validation", *sources,
                                  "--config", str(config), "--out", str(out), "--fixed-model-name", name], cwd=cwd,
                                 env={**os.environ, "PYTHONHASHSEED": HASH_SEED})
        if trained.returncode:
            check.kill()
            check.wait()
            return trained.returncode
        if check.wait():
            log.seek(0)
            said = [line for line in log.read().decode("utf-8", "replace").splitlines() if line.strip()]
            print("\n".join(said[-40:]), file=sys.stderr)
            model.unlink(missing_ok=True)
            print(f"the data did not pass rasa data validate: {model} removed", file=sys.stderr)
            return check.returncode
    return 0


def main(args: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Train Kefu's model while Rasa checks the data.")
    parser.add_argument("--config", type=Path, default=Path("config.yml"))
    parser.add_argument("--domain", type=Path, default=Path("domain.yml"))
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--name", default="kefu")
    options = parser.parse_args(args)
    sys.exit(train(options.config, options.domain, options.data, options.out, options.name))


if __name__ == "__main__":
    main()

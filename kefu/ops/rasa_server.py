"""One Rasa server, started the way Kefu needs it to be safe.

``rasa run`` would listen on every interface, with ``--cors "*"`` and an open
HTTP API if asked for one. Here:

* the server listens on 127.0.0.1 unless ``--host`` says otherwise (the
  production profile puts nginx in front, docker-compose an internal
  network); the webhooks the platforms call, the widget's socket.io and its
  pages are what nginx publishes, nothing else;
* Rasa's HTTP API (trackers, events, ``execute``, models, training) is on
  only with ``--api``, and then every call needs a JWT signed with
  ``KEFU_RASA_JWT_SECRET`` (the agent desk signs short-lived ones,
  ``kefu.desk.rasa``); Rasa's query-string token is not used, so no secret
  travels in a URL;
* CORS is sent only for the origins in ``KEFU_CORS_ORIGINS``;
* secrets are read from the environment here, so they never appear on a
  command line (``ps`` shows every process's arguments);
* Rasa's check of each action server response prepares its schema once
  (kefu/dialogue/remote_actions.py) instead of on every call, and its rule
  lookup stops comparing a conversation's states where the longest rule
  ends (kefu/dialogue/rules.py);
* TensorFlow and the BLAS libraries get one thread each (unless the
  environment says otherwise): the models are small, a reply is a handful
  of tiny matrix products, and the thread pools TensorFlow sizes for big
  models cost more in wake-ups than they save; parallelism comes from more
  Rasa processes (the production profile), not from threads.

``python -m kefu.ops.rasa_server --port 5005 --model models/kefu.tar.gz
--endpoints endpoints.yml --credentials credentials.yml [--api]``.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from kefu.core.config import load_settings
from kefu.core.secrets import secret

#: thread pools for small models (see above); the environment may override them
SMALL_MODEL_THREADS = {
    "TF_INTER_OP_PARALLELISM_THREADS": "1",
    "TF_INTRA_OP_PARALLELISM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}


def rasa_argv(port: int, model: Optional[str], endpoints: str, credentials: str, host: str = "127.0.0.1",
              api: bool = False, cors: Optional[List[str]] = None) -> List[str]:
    """The arguments of ``rasa run`` for one Kefu server."""
    argv = ["rasa", "run", "--port", str(port), "--interface", host,
            "--endpoints", endpoints, "--credentials", credentials]
    if model:
        argv += ["--model", model]
    if api:
        # one argument with "=": a generated secret may begin with "-", which
        # argparse would read as the next option and then stop Rasa (exit 2)
        argv += ["--enable-api", f"--jwt-secret={secret('rasa_jwt_secret')}", "--jwt-method", "HS256"]
    if cors:
        argv += ["--cors", *cors]
    return argv


def main(args: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="One Rasa server for Kefu (local interface, JWT-protected API).")
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--model", default=None)
    parser.add_argument("--endpoints", default="endpoints.yml")
    parser.add_argument("--credentials", default="credentials.yml")
    parser.add_argument("--api", action="store_true", help="Rasa's HTTP API, for the agent desk (JWT required)")
    options = parser.parse_args(args)
    # endpoints.yml sends it to the action server as ${KEFU_ACTION_TOKEN}
    os.environ.setdefault("KEFU_ACTION_TOKEN", secret("action_token"))
    for name, value in SMALL_MODEL_THREADS.items():
        os.environ.setdefault(name, value)
    sys.argv = rasa_argv(options.port, options.model, options.endpoints, options.credentials, options.host,
                         options.api, list(load_settings().cors_origins))
    from kefu.dialogue import remote_actions, rules

    remote_actions.install()  # after the thread settings: it imports TensorFlow
    rules.install()
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()

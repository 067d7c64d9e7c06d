"""The action server, as rasa-sdk runs it, but only for Rasa.

The action server acts on the shop: it reads orders and cancels them. Rasa
is its only legitimate caller, and what Rasa sends (the tracker) is trusted
by every action, so a forged ``POST /webhook`` with a made-up tracker must
never run one. The server therefore

* listens on 127.0.0.1 unless told otherwise (``--host``; in docker-compose
  the internal network only, never published);
* refuses every request to ``/webhook`` and ``/actions`` without the shared
  secret ``KEFU_ACTION_TOKEN`` in the ``X-Kefu-Action-Token`` header
  (compared in constant time), which Rasa sends from ``endpoints.yml``;
* sends no CORS headers: no browser has any business here.

``python -m kefu.ops.action_server --port 5055``.
"""
from __future__ import annotations

import argparse
import hmac
import logging
from typing import Optional

from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from kefu.core.secrets import secret

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-Kefu-Action-Token"
#: what needs no token: the health check the supervisor and nginx poll
PUBLIC_PATHS = {"/health"}


def authorised(request: Request, token: str) -> bool:
    received = request.headers.get(TOKEN_HEADER) or ""
    return hmac.compare_digest(received.encode("utf-8"), token.encode("utf-8"))


def guarded_app(actions: str = "actions", token: Optional[str] = None) -> Sanic:
    """rasa-sdk's app for ``actions``, behind the shared secret."""
    app = create_app(actions, cors_origins=None)
    expected = token or secret("action_token")

    @app.on_request
    async def require_token(request: Request) -> Optional[HTTPResponse]:
        if request.path in PUBLIC_PATHS or authorised(request, expected):
            return None
        logger.warning("action server: a request to %s without the action token refused", request.path)
        return response.json({"error": "forbidden"}, status=403)

    return app


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description="Kefu's action server (Rasa's only, behind a shared secret).")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = guarded_app(args.actions)
    app.run(args.host, args.port, access_log=False, workers=1)


if __name__ == "__main__":
    main()

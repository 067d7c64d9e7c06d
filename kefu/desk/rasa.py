"""Rasa over its HTTP API: read a conversation's tracker, and run an action
in it.

The API is open only to a JWT signed with ``KEFU_RASA_JWT_SECRET``
(kefu/ops/rasa_server.py). The desk signs a fresh one for every call, valid
for a minute, in the ``Authorization`` header: nothing secret in a URL, and a
token that leaks is useless moments later.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import httpx
import jwt

logger = logging.getLogger(__name__)


class RasaError(Exception):
    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status  # Rasa's HTTP status, when it answered


#: how long a signed call to Rasa's API stays valid
TOKEN_SECONDS = 60


def api_token(jwt_secret: str, now: Optional[float] = None) -> str:
    """A JWT Rasa accepts for any conversation (role admin), valid briefly."""
    issued = int(now if now is not None else time.time())
    claims = {"user": {"username": "kefu-desk", "role": "admin"}, "iat": issued, "exp": issued + TOKEN_SECONDS}
    return jwt.encode(claims, jwt_secret, algorithm="HS256")


class RasaClient:
    def __init__(self, base_url: str, jwt_secret: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._secret = jwt_secret
        self.client = httpx.AsyncClient(timeout=timeout)

    def _headers(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {api_token(self._secret)}"}

    def _url(self, conversation_id: str, tail: str) -> str:
        # ":" stays as it is: every conversation id has one (kefu.core.ids), and Rasa's router
        # does not match an escaped one
        return f"{self.base_url}/conversations/{quote(conversation_id, safe=':')}/{tail}"

    async def execute(self, conversation_id: str, action: str, output_channel: str = "latest") -> Dict[str, Any]:
        """POST /conversations/{id}/execute?output_channel=latest: the action's
        messages go to the shopper on the channel they last used (or on the
        connector named, for a conversation that has not spoken yet)."""
        try:
            response = await self.client.post(
                self._url(conversation_id, "execute"), params={"output_channel": output_channel},
                json={"name": action}, headers=self._headers(),
            )
        except httpx.HTTPError as error:
            raise RasaError(f"{action}: {type(error).__name__}") from error
        if response.status_code >= 400:
            raise RasaError(f"{action}: HTTP {response.status_code}", response.status_code)
        return response.json()

    async def start_conversation(self, conversation_id: str) -> None:
        """Make the conversation exist in the tracker store (a new session,
        then listening), so that ``execute`` may speak first in it: Rasa's
        ``execute`` refuses a conversation it has never seen."""
        try:
            response = await self.client.post(
                self._url(conversation_id, "tracker/events"), json=[{"event": "action", "name": "action_listen"}],
                headers=self._headers(),
            )
        except httpx.HTTPError as error:
            raise RasaError(f"start: {type(error).__name__}") from error
        if response.status_code >= 400:
            raise RasaError(f"start: HTTP {response.status_code}", response.status_code)

    async def tracker(self, conversation_id: str) -> Dict[str, Any]:
        """The conversation's tracker as Rasa's API gives it (its slots, and
        its events with what the model understood of each message)."""
        try:
            response = await self.client.get(self._url(conversation_id, "tracker"), headers=self._headers())
        except httpx.HTTPError as error:
            raise RasaError(f"tracker: {type(error).__name__}") from error
        if response.status_code >= 400:
            raise RasaError(f"tracker: HTTP {response.status_code}")
        tracker: Dict[str, Any] = response.json()
        return tracker

    async def transcript(self, conversation_id: str) -> List[Dict[str, Any]]:
        """The user and bot turns of the conversation's tracker."""
        turns = []
        for event in (await self.tracker(conversation_id)).get("events") or []:
            kind = event.get("event")
            if kind in ("user", "bot") and event.get("text"):
                turns.append({"sender": "shopper" if kind == "user" else "bot", "text": event["text"],
                              "time": event.get("timestamp")})
        return turns

    async def close(self) -> None:
        await self.client.aclose()

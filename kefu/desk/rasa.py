"""Rasa over its HTTP API (the server runs with ``--enable-api``): read a
conversation's tracker, and run an action in it."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import httpx

logger = logging.getLogger(__name__)


class RasaError(Exception):
    pass


class RasaClient:
    def __init__(self, base_url: str, token: Optional[str] = None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.client = httpx.AsyncClient(timeout=timeout)

    def _params(self, **extra: str) -> Dict[str, str]:
        params = dict(extra)
        if self.token:
            params["token"] = self.token
        return params

    def _url(self, conversation_id: str, tail: str) -> str:
        return f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/{tail}"

    async def execute(self, conversation_id: str, action: str) -> Dict[str, Any]:
        """POST /conversations/{id}/execute?output_channel=latest: the action's
        messages go to the shopper on the channel they last used."""
        try:
            response = await self.client.post(
                self._url(conversation_id, "execute"), params=self._params(output_channel="latest"),
                json={"name": action},
            )
        except httpx.HTTPError as error:
            raise RasaError(f"{action}: {type(error).__name__}") from error
        if response.status_code >= 400:
            raise RasaError(f"{action}: HTTP {response.status_code}")
        return response.json()

    async def transcript(self, conversation_id: str) -> List[Dict[str, Any]]:
        """The user and bot turns of the conversation's tracker."""
        try:
            response = await self.client.get(self._url(conversation_id, "tracker"), params=self._params())
        except httpx.HTTPError as error:
            raise RasaError(f"tracker: {type(error).__name__}") from error
        if response.status_code >= 400:
            raise RasaError(f"tracker: HTTP {response.status_code}")
        turns = []
        for event in response.json().get("events") or []:
            kind = event.get("event")
            if kind in ("user", "bot") and event.get("text"):
                turns.append({"sender": "shopper" if kind == "user" else "bot", "text": event["text"],
                              "time": event.get("timestamp")})
        return turns

    async def close(self) -> None:
        await self.client.aclose()

"""Upstash's REST API over httpx: one command, a pipeline, or a MULTI/EXEC transaction.

Upstash documents the protocol (a JSON array ``["SET", "k", "v"]`` POSTed to ``/``, a 2-D array
to ``/pipeline`` or ``/multi-exec``, ``Authorization: Bearer <token>``, answers
``{"result": ...}`` or ``{"error": "..."}``). The ``upstash-redis`` package speaks it too, but
it gives its HTTP client no timeout and no supported way to set one (upstash/redis-py#46), so
a stalled Upstash would hold a feed request or the cron job until the platform kills it. Here
every request has ``STORE_TIMEOUT_S`` through httpx's own ``timeout`` option.

Answers are asked for without ``Upstash-Encoding: base64``: everything stored here is JSON
text, and base64 would add a third to every byte read (Upstash's free tier counts bandwidth).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

Command = Sequence[str | int | float]


class UpstashError(Exception):
    """Upstash answered with an error, or with something that is not its protocol."""


class UpstashREST:
    def __init__(self, url: str, token: str, timeout_s: float) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=httpx.Timeout(timeout_s))

    def call(self, *command: str | int | float) -> Any:
        return _result(self._post("", list(command)))

    def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        """Several commands in one round trip, not atomic; any failed command raises."""
        return self._batch("/pipeline", commands)

    def multi(self, commands: Sequence[Command]) -> list[Any]:
        """Several commands in one round trip, as one MULTI/EXEC transaction."""
        return self._batch("/multi-exec", commands)

    def _batch(self, endpoint: str, commands: Sequence[Command]) -> list[Any]:
        entries = self._post(endpoint, [list(c) for c in commands])
        if not isinstance(entries, list) or len(entries) != len(commands):
            raise UpstashError(f"{endpoint} answered {str(entries)[:200]!r}, not one entry per command")
        return [_result(entry) for entry in entries]

    def _post(self, endpoint: str, body: Any) -> Any:
        response = self._client.post(self.url + endpoint, json=body)
        try:
            answer = response.json()
        except ValueError:
            raise UpstashError(f"HTTP {response.status_code} with a body that is not JSON") from None
        if response.status_code != 200 and not (isinstance(answer, dict) and "error" in answer):
            raise UpstashError(f"HTTP {response.status_code}")
        return answer

    def close(self) -> None:
        self._client.close()


def _result(entry: Any) -> Any:
    if not isinstance(entry, dict) or not ("result" in entry or "error" in entry):
        raise UpstashError(f"an answer that is not Upstash's protocol: {str(entry)[:200]!r}")
    if "error" in entry:
        raise UpstashError(str(entry["error"]))
    return entry["result"]

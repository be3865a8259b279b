"""Upstash's REST API: one command, a pipeline, or a MULTI/EXEC transaction.

Upstash documents the protocol (a JSON array ``["SET", "k", "v"]`` POSTed to ``/``, a 2-D array
to ``/pipeline`` or ``/multi-exec``, ``Authorization: Bearer <token>``, answers
``{"result": ...}`` or ``{"error": "..."}``). The ``upstash-redis`` package speaks it too, but
it gives its HTTP client no timeout and no supported way to set one (upstash/redis-py#46), so
a stalled Upstash would hold a feed request or the cron job until the platform kills it. Here
every request has ``STORE_TIMEOUT_S``. Requests go over the standard library's ``http.client``
(core.store.connections: keep-alive, thread-safe, loaded by FastAPI already, so opening the
store costs a cold function nothing); every network failure is an ``UpstashError`` saying what
happened.

Answers are asked for without ``Upstash-Encoding: base64``: everything stored here is JSON
text, and base64 would add a third to every byte read (Upstash's free tier counts bandwidth).
They are asked for gzipped (``Accept-Encoding: gzip``) and inflated when they come so;
Upstash's REST API documentation says nothing of compression either way.

Read-your-writes: every answer may carry an ``Upstash-Sync-Token`` header; the client keeps
the last one and sends it with its next request, as Upstash's own SDKs do, so a read after a
write sees that write even when a read replica answers it.

Time: every step of a request (connect, send, each read) waits at most ``timeout_s``, or, within
a job ``core.store.deadline.finishing_by`` bounds, at most the time the job had left when the
request started; a request with nothing left is not sent. (A server trickling its answer could
still take longer in all: the bound is per step, as httpx's timeouts were.)

Upstash refuses a request over 10 MB (free and pay-as-you-go): a body past ``MAX_REQUEST_BYTES``
is refused here, before it is sent, with the size in the message. Callers size their batches
with ``request_bytes``, which measures what is sent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.store.connections import Connections, HTTPFailure
from core.store.deadline import time_left

Command = Sequence[str | int | float]
MAX_REQUEST_BYTES = 10_000_000  # Upstash's max request size on free and pay-as-you-go
SYNC_TOKEN = "Upstash-Sync-Token"
USER_AGENT = "arxiv-rss-bot/0.2 (Upstash REST; python http.client)"


class UpstashError(Exception):
    """Upstash answered with an error or with something that is not its protocol, or did not
    answer (the network failure in words)."""


def encode_command(command: Command) -> bytes:
    """One command as a request body holds it: compact JSON in UTF-8."""
    return json.dumps(list(command), ensure_ascii=False, separators=(",", ":")).encode()


def request_bytes(command: Command) -> int:
    """The bytes one command adds to a request body (with the comma that separates it)."""
    return len(encode_command(command)) + 1


class UpstashREST:
    def __init__(self, url: str, token: str, timeout_s: float) -> None:
        self._connections = Connections(url, USER_AGENT)
        self.timeout_s = timeout_s
        self._authorization = f"Bearer {token}"
        self.sync_token = ""  # the newest Upstash-Sync-Token answered to this client

    def call(self, *command: str | int | float) -> Any:
        return _result(self._post("", encode_command(command)))

    def pipeline(self, commands: Sequence[Command]) -> list[Any]:
        """Several commands in one round trip, not atomic; any failed command raises."""
        return self.pipeline_encoded([encode_command(c) for c in commands])

    def pipeline_encoded(self, commands: Sequence[bytes]) -> list[Any]:
        """``pipeline`` of commands encoded already (``encode_command``: a caller that sized
        its batches by their bytes does not encode them twice)."""
        return self._batch("/pipeline", commands)

    def multi(self, commands: Sequence[Command]) -> list[Any]:
        """Several commands in one round trip, as one MULTI/EXEC transaction."""
        return self._batch("/multi-exec", [encode_command(c) for c in commands])

    def _batch(self, endpoint: str, commands: Sequence[bytes]) -> list[Any]:
        entries = self._post(endpoint, b"[" + b",".join(commands) + b"]")
        if not isinstance(entries, list) or len(entries) != len(commands):
            raise UpstashError(f"{endpoint} answered {str(entries)[:200]!r}, not one entry per command")
        return [_result(entry) for entry in entries]

    def _post(self, endpoint: str, content: bytes) -> Any:
        if len(content) > MAX_REQUEST_BYTES:
            raise UpstashError(
                f"a request of {len(content) / 1e6:.1f} MB was not sent: Upstash refuses requests over "
                f"{MAX_REQUEST_BYTES / 1e6:.0f} MB (ERR max request size exceeded)"
            )
        headers = {"Authorization": self._authorization, "Content-Type": "application/json"}
        if self.sync_token:
            headers[SYNC_TOKEN] = self.sync_token
        try:
            response = self._connections.post(endpoint, content, headers, self._timeout())
        except HTTPFailure as exc:
            raise UpstashError(str(exc)) from None
        if token := response.headers.get(SYNC_TOKEN):
            self.sync_token = token
        try:
            answer = json.loads(response.body)
        except ValueError:
            raise UpstashError(f"HTTP {response.status} with a body that is not JSON") from None
        if response.status != 200 and not (isinstance(answer, dict) and "error" in answer):
            raise UpstashError(f"HTTP {response.status}")
        return answer

    def _timeout(self) -> float:
        left = time_left()
        if left is None:
            return self.timeout_s
        if left <= 0:
            raise UpstashError("not sent: the job's time ran out (the function is about to be stopped)")
        return min(self.timeout_s, left)

    def close(self) -> None:
        self._connections.close()


def _result(entry: Any) -> Any:
    if not isinstance(entry, dict) or not ("result" in entry or "error" in entry):
        raise UpstashError(f"an answer that is not Upstash's protocol: {str(entry)[:200]!r}")
    if "error" in entry:
        raise UpstashError(str(entry["error"]))
    return entry["result"]

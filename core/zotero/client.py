"""The one HTTP client for the Zotero Web API v3.

Every request carries ``Zotero-API-Version: 3`` and, when one is set, ``Zotero-API-Key``
(a key never goes anywhere but the configured API base: a ``Link`` to another origin is
refused). Zotero asks clients to slow down in two ways, and both are honoured: ``Backoff: N``
on any answer (wait N seconds before the next request) and ``Retry-After: N`` on a 429 or
503 (wait, then ask again). A wait longer than ``max_wait_s``, or past the run's deadline,
is not slept through: it raises ``ZoteroError`` with ``wait_s`` and the sync goes on at the
next refresh. Each request is bounded in time (the timeout, and the deadline) and in size.

Time is injected (``clock``, ``sleep``) so tests run the waits without waiting.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from core.download import ACCEPT_ENCODING, BodyRefused, read_capped
from core.errors import ZoteroError
from core.zotero.items import parse_next

USER_AGENT = "arxiv-rss-bot/0.2 (liked papers from a Zotero library; python-httpx)"
TIMEOUT_S = 20.0
MAX_WAIT_S = 30.0  # the longest Backoff or Retry-After slept through inside one sync
MAX_ATTEMPTS = 3
MAX_BYTES = 20_000_000  # a page of 100 items is a few hundred KB


@dataclass(frozen=True)
class Answer:
    """One answer: 200 (with its body) or 304 (the library has not changed)."""

    status: int
    version: int | None  # Last-Modified-Version: the library's version
    total: int | None  # Total-Results
    next: str | None  # the Link header's rel="next" URL
    body: Any  # parsed JSON, or text for format=keys; None for a 304

    @property
    def unchanged(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class _Raw:
    url: str
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class ZoteroClient:
    """GET from the Zotero Web API under its rules; one instance per sync."""

    def __init__(
        self,
        base: str,
        api_key: str | None,
        timeout_s: float = TIMEOUT_S,
        deadline: float | None = None,
        max_wait_s: float = MAX_WAIT_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base = base.rstrip("/")
        self.timeout_s = timeout_s
        self.deadline = deadline  # a clock() value no request may run past
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.sleep = sleep
        self.backoff_until = 0.0  # a clock() value: Zotero's last Backoff asks for no request before it
        self.requests = 0
        headers = {"User-Agent": USER_AGENT, "Zotero-API-Version": "3", "Accept-Encoding": ACCEPT_ENCODING}
        if api_key:
            headers["Zotero-API-Key"] = api_key
        self._http = httpx.Client(headers=headers, follow_redirects=False, transport=transport)

    def get(self, path_or_url: str, params: Mapping[str, str] | None = None, since: int | None = None) -> Answer:
        """GET a path under the API base (or a ``Link`` URL Zotero gave); ``since`` sends
        ``If-Modified-Since-Version`` (a 304 then means nothing changed). Raises ZoteroError."""
        url = urljoin(self.base + "/", path_or_url.lstrip("/")) if "://" not in path_or_url else path_or_url
        if _origin(url) != _origin(self.base):
            raise ZoteroError(f"Zotero linked to {url}, outside ZOTERO_API_BASE", "the API key is sent nowhere else")
        headers = {"If-Modified-Since-Version": str(since)} if since else {}
        problem = ""
        for attempt in range(MAX_ATTEMPTS):
            self._wait(max(self.backoff_until - self.clock(), 0.0), "Zotero asked to back off (Backoff)")
            self.requests += 1
            try:
                response = self._once(url, params, headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                retry_after = None
            else:
                if (backoff := _seconds(response.headers.get("Backoff"))) is not None:
                    self.backoff_until = max(self.backoff_until, self.clock() + backoff)
                if response.status in (200, 304):
                    return _answer(response)
                problem = f"HTTP {response.status}: {_snippet(response)}"
                if response.status not in (429, 503) and response.status < 500:
                    raise ZoteroError(f"Zotero answered {problem} for {_path(url)}", status=response.status)
                retry_after = _seconds(response.headers.get("Retry-After"))
            if attempt + 1 < MAX_ATTEMPTS:
                self._wait(retry_after if retry_after is not None else 2.0**attempt, f"Zotero answered {problem}")
        raise ZoteroError(
            f"Zotero failed for {_path(url)} after {MAX_ATTEMPTS} attempts: {problem}", "the next refresh asks again"
        )

    def _wait(self, seconds: float, why: str) -> None:
        """Sleep ``seconds`` unless that is too long or runs past the deadline: then stop here."""
        if self.deadline is not None and self.clock() + seconds >= self.deadline:
            raise ZoteroError(f"{why}; no time left in this run", "the next refresh goes on", wait_s=seconds)
        if seconds > self.max_wait_s:
            raise ZoteroError(f"{why} for {seconds:.0f} s", "the next refresh goes on", wait_s=seconds)
        if seconds > 0:
            self.sleep(seconds)

    def _once(self, url: str, params: Mapping[str, str] | None, headers: Mapping[str, str]) -> _Raw:
        limit = self.timeout_s
        if self.deadline is not None:
            limit = max(min(limit, self.deadline - self.clock()), 0.1)
        end = self.clock() + limit
        with self._http.stream("GET", url, params=params, headers=headers, timeout=limit) as response:
            try:
                body = read_capped(response, MAX_BYTES, end, self.clock)
            except BodyRefused as exc:
                raise ZoteroError(f"Zotero's answer for {_path(url)} was refused: {exc}") from None
            return _Raw(str(response.url), response.status_code, response.headers, body)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ZoteroClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _answer(response: _Raw) -> Answer:
    headers = response.headers
    version, total = _number(headers.get("Last-Modified-Version")), _number(headers.get("Total-Results"))
    if response.status == 304:
        return Answer(304, version, total, None, None)
    try:
        body = json.loads(response.body) if "json" in headers.get("Content-Type", "") else response.text
    except ValueError:
        raise ZoteroError(f"Zotero's answer for {_path(response.url)} is not JSON") from None
    return Answer(200, version, total, parse_next(response.headers.get("Link")), body)


def _seconds(value: str | None) -> float | None:
    """Backoff and Retry-After as Zotero sends them: whole seconds."""
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def _number(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _path(url: str) -> str:
    return urlsplit(url).path


def _snippet(response: _Raw) -> str:
    return " ".join(response.text.split())[:200] or "(no message)"

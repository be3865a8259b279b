"""The one HTTP client for arXiv: RSS, API and PDF requests all go through ``ArxivClient``.

arXiv's terms: at most one request every three seconds, one connection at a time. So one
client per run holds one httpx connection pool, one ``Throttle`` shared by every kind of
request (and by the summary threads: one request at a time, 3 s from the end of the last),
one User-Agent and one retry policy. Only runs under the store's refresh lock (the refresh
and ``summarize``, from the cron, the CLI or the first visit) make one, and the state carries
the last request's time to the next run, so a deployment's instances together keep the rule;
a reader's request never reaches arXiv. Every request is
also bounded: a total deadline (httpx's timeouts are per read, so a server trickling bytes
could hold a request for ever), a cap on the bytes read, compressed and decompressed (a
gzip bomb), and redirects followed only to arXiv's configured hosts.

Time is injected (``clock``, ``sleep``) so tests run the retry policy without waiting.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin, urlsplit

import httpx

from core.download import ACCEPT_ENCODING, BodyRefused, read_capped
from core.errors import FetchError
from core.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "arxiv-rss-bot/0.2 (personal arXiv feed; a few requests a day; python-httpx)"
MAX_ATTEMPTS = 3
MAX_RETRY_AFTER_S = 120.0
MAX_REDIRECTS = 3
# What a response may weigh, by kind: the combined RSS of every archive is about 3 MB, an API
# page of 500 entries about 1.5 MB; a PDF's cap comes from summary.pdf_max_bytes.
RSS_MAX_BYTES = 40_000_000
API_MAX_BYTES = 20_000_000
# Bodies are asked for gzip-compressed (arXiv serves gzip) and inflated in steps (core.download).

UNREACHABLE_HINT = "check this machine's connection, then run `make refresh` (or python -m core refresh) once online"


class Throttle:
    """One request at a time, each starting ``min_interval`` seconds after the previous one
    ended (arXiv's API terms: one request every 3 seconds, one connection at a time, for every
    machine and thread of a deployment together).

    The gap is measured from the end of a request, not its start: a 30-second PDF download
    followed at once by the next request would otherwise be two requests in a row with no
    pause at all. The summary threads share one throttle, and a thread holds it for the whole
    request, so downloads never overlap."""

    def __init__(
        self,
        min_interval: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_interval = min_interval
        self.clock = clock
        self.sleep = sleep
        self._last: float | None = None  # when the last request ended
        self._lock = threading.Lock()

    def seed(self, seconds_ago: float) -> None:
        """Account for a request made earlier (by a previous run) ``seconds_ago`` seconds ago."""
        self._last = self.clock() - max(seconds_ago, 0.0)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold the one request slot: wait for it and for the gap, then run the request."""
        with self._lock:
            if self._last is not None:
                remaining = self._last + self.min_interval - self.clock()
                if remaining > 0:
                    self.sleep(remaining)
            try:
                yield
            finally:
                self._last = self.clock()


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    headers: httpx.Headers
    body: bytes


class ArxivClient:
    """GET from arXiv under its rules; one instance per run (the refresh, or ``summarize``)."""

    def __init__(
        self,
        settings: Settings,
        last_request_at: datetime | None = None,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.timeout_s = settings.arxiv_timeout_s
        self.deadline = deadline  # a clock() value no request may run past (the function's limit)
        self.clock = clock
        self.throttle = Throttle(settings.arxiv_min_interval_s, clock, sleep)
        if last_request_at is not None:  # a request of an earlier run counts for the 3 seconds
            self.throttle.seed((datetime.now(UTC) - last_request_at).total_seconds())
        self._wall_start, self._clock_start = datetime.now(UTC), clock()
        self._last_request: float | None = None
        self._hosts = {
            urlsplit(u).netloc for u in (settings.arxiv_rss_base, settings.arxiv_api_base, settings.arxiv_pdf_base)
        }
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING}
        self._http = httpx.Client(headers=headers, follow_redirects=False, transport=transport)

    @property
    def last_request_at(self) -> datetime | None:
        """When this client last sent a request (wall clock), for the next run's throttle."""
        if self._last_request is None:
            return None
        return self._wall_start + timedelta(seconds=self._last_request - self._clock_start)

    def get(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = API_MAX_BYTES,
        ok: tuple[int, ...] = (200,),
    ) -> Response:
        """GET ``url``; retry transport errors, 5xx and 429 with backoff (Retry-After honoured).

        Returns a response whose status is in ``ok``; raises FetchError naming the URL otherwise.
        """
        problem, unreachable = "", False
        for attempt in range(MAX_ATTEMPTS):
            delay = self.throttle.min_interval * 2**attempt
            try:
                with self.throttle.slot():
                    self._check_deadline(url)  # after the wait for the slot, which may be long
                    try:
                        response = self._once(url, params, headers, max_bytes)
                    finally:
                        self._last_request = self.clock()
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                # No connection at all (a name that does not resolve, no route, refused): this
                # machine's network, not arXiv, as far as anyone here can tell.
                unreachable = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
            else:
                unreachable = False
                if response.status in ok:
                    return response
                problem = f"HTTP {response.status}"
                if response.status != 429 and response.status < 500:
                    raise FetchError(f"{url} answered {problem}", "check the ARXIV_*_BASE settings and the ids asked")
                retry_after = _retry_after(response.headers.get("Retry-After"))
                if retry_after is not None:
                    if retry_after > MAX_RETRY_AFTER_S:
                        raise FetchError(f"{url} answered {problem}", f"arXiv asks to retry after {retry_after:.0f} s")
                    delay = max(delay, retry_after)
            if attempt + 1 < MAX_ATTEMPTS:
                if self.deadline is not None and self.clock() + delay >= self.deadline:
                    break
                log.warning("arXiv: %s; retrying in %.1f s", problem, delay)
                self.throttle.sleep(delay)
        attempts = f"{attempt + 1} attempt{'s' if attempt else ''}"
        if unreachable:
            raise FetchError(
                f"this machine cannot reach arXiv (network or DNS): {url} failed after {attempts}: {problem}",
                UNREACHABLE_HINT,
            )
        raise FetchError(f"{url} failed after {attempts}: {problem}", "arXiv may be down; try again later")

    def _check_deadline(self, url: str) -> None:
        if self.deadline is not None and self.clock() >= self.deadline:
            raise FetchError(f"{url}: no time left in this run", "the run continues at the next refresh")

    def _once(
        self, url: str, params: Mapping[str, str] | None, headers: Mapping[str, str] | None, max_bytes: int
    ) -> Response:
        """One request with its redirects, inside one deadline and one size cap."""
        limit = self.timeout_s
        if self.deadline is not None:
            limit = max(min(limit, self.deadline - self.clock()), 0.1)
        end = self.clock() + limit
        for _ in range(MAX_REDIRECTS + 1):
            with self._http.stream("GET", url, params=params, headers=headers, timeout=limit) as response:
                if response.is_redirect and "Location" in response.headers:
                    target = urljoin(str(response.url), response.headers["Location"])
                    if urlsplit(target).netloc not in self._hosts:
                        raise FetchError(f"{url} redirects to {target}, outside arXiv's configured hosts")
                    url, params = target, None
                    continue
                try:
                    body = read_capped(response, max_bytes, end, self.clock)
                except BodyRefused as exc:
                    raise FetchError(str(exc)) from None
                return Response(str(response.url), response.status_code, response.headers, body)
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ArxivClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)

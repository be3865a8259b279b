"""A loopback stand-in for rss.arxiv.org that serves recorded real responses.

It answers like arXiv: the feed bytes with an ETag and Last-Modified, 304 to a matching
conditional request, and whatever errors a test queues (503 with Retry-After, 429, ...).
"""

from __future__ import annotations

import hashlib
from collections import deque
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.loopback import LoopbackServer, Reply, Request

DATA = Path(__file__).parent / "data"
COMBINED = "rss-all-archives-combined-2024-11-28.xml"
STAT = "rss-stat-2024-03-26.xml"
EMPTY_WEEKEND = "rss-cs-2026-03-29-empty.xml"
EMPTY_WEEKDAY = "rss-test-2024-11-28-empty.xml"
ERROR_FEED = "rss-error-bad-archive-astroph-2024-11-28.xml"
API_ZERO = "api-id_list-0000.0000-zero-results-2026-04-12.xml"
API_ERROR = "api-error-http400-id_list-abc-2026-04-12.xml"
API_TWO = "api-id_list-0808.05394-1707.08567-2026-04-12.xml"
API_OLD_STYLE = "api-id_list-astro-ph-0601001-2026-05-11.xml"
API_CS_AI = "api-all-cs.AI-2026-02-06.xml"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


class FakeArxiv:
    def __init__(self) -> None:
        self.queued: deque[Reply] = deque()
        self.body = read(COMBINED)
        self.last_modified = "Thu, 28 Nov 2024 14:47:20 GMT"
        self.files: dict[str, Reply] = {}  # other paths (PDFs), answered as given
        self.latency_s = 0.0
        self.api_answers: dict[str, str] = {}  # id_list -> recorded API file
        self.api_errors: dict[str, Reply] = {}
        self.api_requests: list[Request] = []
        self.server = LoopbackServer(self._handle)

    @property
    def rss_base(self) -> str:
        return self.server.url + "/rss"

    @property
    def requests(self) -> list[Request]:
        """Requests to the RSS feed and PDFs (the API's are in ``api_requests``)."""
        return [r for r in self.server.requests if not r.path.startswith("/api/")]

    @property
    def etag(self) -> str:
        return '"' + hashlib.md5(self.body).hexdigest() + '"'

    def serve(self, body: bytes | str) -> None:
        """From now on, serve these feed bytes (or the recorded file of that name)."""
        self.body = read(body) if isinstance(body, str) else body

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, then go back to the feed."""
        self.queued.extend(replies)

    def _api(self, request: Request) -> Reply:
        """The arXiv API: recorded answers by id_list, the zero-result answer otherwise."""
        self.api_requests.append(request)
        ids = parse_qs(urlsplit(request.path).query).get("id_list", [""])[0]
        if ids in self.api_errors:
            return self.api_errors[ids]
        name = self.api_answers.get(ids, API_ZERO)
        status = 400 if name == API_ERROR else 200
        return Reply(status, read(name), {"Content-Type": "application/atom+xml; charset=UTF-8"})

    def _handle(self, request: Request) -> Reply:
        if request.path in self.files:
            return self.files[request.path]
        if request.path.startswith("/api/query"):
            return self._api(request)
        if self.queued:
            return self.queued.popleft()
        if not request.path.startswith("/rss/"):
            return Reply(404, b"Not Found", {"Content-Type": "text/plain"})
        if request.headers.get("if-none-match") == self.etag:
            return Reply(304, headers={"ETag": self.etag})
        headers = {"Content-Type": "application/rss+xml", "ETag": self.etag, "Last-Modified": self.last_modified}
        return Reply(200, self.body, headers, delay_s=self.latency_s)

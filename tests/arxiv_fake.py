"""A loopback stand-in for rss.arxiv.org and the arXiv API that serves recorded real responses.

It answers like arXiv: the feed bytes with an ETag and Last-Modified, 304 to a matching
conditional request, and whatever errors a test queues (503 with Retry-After, 429, ...). A
feed of several categories (``/rss/cs.AI+math``) holds at most 2,000 items, as arXiv's RSS
help says ("Limit 2000 results"); with ``by_category`` set, each answer holds only the items
listed under the categories or archives its URL names, as arXiv's do. The
API answers ``id_list`` lookups with recorded files, and ``search_query`` searches (category
OR-lists bounded by ``submittedDate``, sorted by submission date, paged) over ``api_corpus``,
rendered in the shape of arXiv's recorded API answers.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape, quoteattr

from core.models import Paper
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


RSS_CAP = 2_000  # arXiv's RSS help, "Subscribe by multiple categories": "Limit 2000 results"
_ITEM = re.compile(rb"    <item>.*?</item>\n", re.DOTALL)
_CATEGORY = re.compile(rb"<category>([^<]+)</category>")


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def busy_day(copies: int = 2) -> bytes:
    """A day busier than any recorded one: the recorded day's items and ``copies - 1`` more
    copies of them under other ids (replacements of older papers keep theirs), over every
    archive. Two copies hold 3,008 items, over arXiv's 2,000-item cap of a combined feed."""
    feed = read(COMBINED)
    items = _ITEM.findall(feed)
    prefixes = [b"2411.1", b"2412.1", b"2501.1", b"2502.1", b"2503.1"][:copies]
    more = [item.replace(b"2411.1", prefix) for prefix in prefixes[1:] for item in items]
    start, end = feed.index(items[0]), feed.rindex(items[-1]) + len(items[-1])
    return feed[:start] + b"".join([*items, *more]) + feed[end:]


def feed_for(feed: bytes, names: list[str], by_category: bool) -> bytes:
    """What arXiv answers for ``names`` from a day's feed: at most RSS_CAP items when several
    are named; with ``by_category``, only the items listed under one of them."""
    if not by_category and len(names) < 2:
        return feed
    items = _ITEM.findall(feed)
    if not items:
        return feed
    kept = items
    if by_category:
        kept = [i for i in items if any(listed_under(n, c.decode()) for n in names for c in _CATEGORY.findall(i))]
    if len(names) > 1:
        kept = kept[:RSS_CAP]
    if kept is items:
        return feed
    start, end = feed.index(items[0]), feed.rindex(items[-1]) + len(items[-1])
    return feed[:start] + b"".join(kept) + feed[end:]


def listed_under(name: str, category: str) -> bool:
    return category == name or category.startswith(name + ".")


def next_day(feed: bytes) -> bytes:
    """The recorded day's feed as the next day's announcement: the same papers under new ids
    (replacements of older papers keep theirs)."""
    return feed.replace(b"Thu, 28 Nov 2024", b"Fri, 29 Nov 2024").replace(b"2411.1", b"2412.1")


class FakeArxiv:
    def __init__(self) -> None:
        self.queued: deque[Reply] = deque()
        self.body = read(COMBINED)
        self.last_modified = "Thu, 28 Nov 2024 14:47:20 GMT"
        self.files: dict[str, Reply] = {}  # other paths (PDFs), answered as given
        self.latency_s = 0.0
        self.by_category = False  # answer each URL with its categories' items only
        self.api_answers: dict[str, str] = {}  # id_list -> recorded API file
        self.api_errors: dict[str, Reply] = {}
        self.api_requests: list[Request] = []  # id_list lookups
        self.search_requests: list[Request] = []  # search_query searches, with when they came
        self.search_times: list[float] = []
        self.api_corpus: list[Paper] = []  # what searches find (by categories and metadata)
        self.clock: Callable[[], float] | None = None  # stamps search_times, when a test sets it
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
        query = parse_qs(urlsplit(request.path).query)
        if "search_query" in query:
            return self._search(request, query)
        self.api_requests.append(request)
        ids = query.get("id_list", [""])[0]
        if ids in self.api_errors:
            return self.api_errors[ids]
        name = self.api_answers.get(ids, API_ZERO)
        status = 400 if name == API_ERROR else 200
        return Reply(status, read(name), {"Content-Type": "application/atom+xml; charset=UTF-8"})

    def _search(self, request: Request, query: dict[str, list[str]]) -> Reply:
        self.search_requests.append(request)
        if self.clock is not None:
            self.search_times.append(self.clock())
        if ids := [k for k in self.api_errors if k.startswith("search")]:
            return self.api_errors[ids[0]]
        text = query["search_query"][0]
        cats = re.findall(r"cat:([\w.\-]+\*?)", text)
        bounds = re.search(r"submittedDate:\[(\d{12}) TO (\d{12})\]", text)
        if not cats or bounds is None or query.get("sortBy") != ["submittedDate"]:
            return Reply(400, read(API_ERROR), {"Content-Type": "application/atom+xml; charset=UTF-8"})
        low, high = (datetime.strptime(b, "%Y%m%d%H%M").replace(tzinfo=UTC) for b in bounds.groups())
        high += timedelta(seconds=59)  # the upper minute is inclusive

        def found(paper: Paper) -> bool:
            wanted = any(
                c.rstrip("*") == cat or (c.endswith("*") and cat.startswith(c[:-1]))
                for c in cats
                for cat in paper.categories
            )
            return wanted and low <= paper.announced <= high

        hits = sorted(filter(found, self.api_corpus), key=lambda p: p.announced, reverse=True)
        start, size = int(query.get("start", ["0"])[0]), int(query.get("max_results", ["10"])[0])
        body = api_page(hits[start : start + size], len(hits), start, size, text)
        return Reply(200, body, {"Content-Type": "application/atom+xml; charset=UTF-8"})

    def _handle(self, request: Request) -> Reply:
        if request.path in self.files:
            return self.files[request.path]
        if request.path.startswith("/api/query"):
            return self._api(request)
        if self.queued:
            return self.queued.popleft()
        if not request.path.startswith("/rss/"):
            return Reply(404, b"Not Found", {"Content-Type": "text/plain"})
        names = unquote(urlsplit(request.path).path.removeprefix("/rss/")).split("+")
        body = feed_for(self.body, names, self.by_category)
        etag = self.etag if body is self.body else '"' + hashlib.md5(body).hexdigest() + '"'
        if request.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        headers = {"Content-Type": "application/rss+xml", "ETag": etag, "Last-Modified": self.last_modified}
        return Reply(200, body, headers, delay_s=self.latency_s)


def _cat_matches(term: str, category: str) -> bool:
    """``cat:cs.AI`` matches cs.AI; ``cat:astro-ph*`` matches astro-ph and astro-ph.GA."""
    return category.startswith(term[:-1]) if term.endswith("*") else category == term


def api_page(papers: list[Paper], total: int, start: int, size: int, query: str) -> bytes:
    """An API answer in the shape of arXiv's (see api-cat-math.NT-OR-math.AG-2026-06-29.xml):
    opensearch counts, then an entry per paper with its submission date as published."""
    title = f"arXiv Query: search_query={query}&id_list=&start={start}&max_results={size}"
    head = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom"'
        ' xmlns="http://www.w3.org/2005/Atom">',
        "  <id>https://arxiv.org/api/loopback</id>",
        f"  <title>{escape(title)}</title>",
        "  <updated>2024-11-30T05:00:00Z</updated>",
        f"  <opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>",
        f"  <opensearch:totalResults>{total}</opensearch:totalResults>",
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>",
    ]
    lines = head + [line for paper in papers for line in _api_entry(paper)] + ["</feed>", ""]
    return "\n".join(lines).encode()


def _api_entry(p: Paper) -> list[str]:
    def stamp(value: datetime) -> str:
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    primary = p.metadata.primary_category if p.metadata and p.metadata.primary_category else p.categories[0]
    versioned = f"{p.id}v{p.version}"
    comment = p.metadata.comment if p.metadata else None
    scheme = "http://arxiv.org/schemas/atom"
    return [
        "  <entry>",
        f"    <id>http://arxiv.org/abs/{versioned}</id>",
        f"    <title>{escape(p.title)}</title>",
        f"    <updated>{stamp(p.updated or p.announced)}</updated>",
        f'    <link href="https://arxiv.org/abs/{versioned}" rel="alternate" type="text/html"/>',
        f'    <link href="https://arxiv.org/pdf/{versioned}" rel="related" type="application/pdf" title="pdf"/>',
        f"    <summary>{escape(p.abstract)}</summary>",
        *(f"    <category term={quoteattr(c)} scheme={quoteattr(scheme)}/>" for c in p.categories),
        f"    <published>{stamp(p.announced)}</published>",
        *([f"    <arxiv:comment>{escape(comment)}</arxiv:comment>"] if comment else []),
        f"    <arxiv:primary_category term={quoteattr(primary)}/>",
        *(f"    <author>\n      <name>{escape(a)}</name>\n    </author>" for a in p.authors),
        "  </entry>",
    ]


def backfill_corpus(days: int = 10, newest: datetime = datetime(2024, 11, 27, 18, tzinfo=UTC)) -> list[Paper]:
    """The recorded day's real papers, spread back over ``days`` days of submissions (newest
    first): what the API would list for the days before the RSS day."""
    from core.arxiv.rss import parse_feed

    papers = parse_feed(read(COMBINED)).papers
    step = timedelta(days=days) / len(papers)
    dates = ((newest - n * step).replace(microsecond=0) for n in range(len(papers)))  # the API gives seconds
    return [p.model_copy(update={"announced": d, "updated": d}) for p, d in zip(papers, dates, strict=True)]

"""core.web.http_cache: strong ETags, Last-Modified and 304s, as RFC 9110 orders them."""

from __future__ import annotations

import email.utils
import gzip
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import Response

from core.config import Config
from core.refresh import refresh
from core.settings import Settings
from core.store import Store
from core.web.app import create_app
from core.web.http_cache import accepts_gzip, conditional_response, etag_of, gzip_etag, negotiated_response
from tests.arxiv_fake import COMBINED, FakeArxiv, read
from tests.conftest import cache_directives
from tests.waiting import ManualClock


@pytest.mark.slow
def test_feeds_and_pages_are_cacheable_with_validators(
    client: TestClient, arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    refresh(config, settings, store)
    for path in ("/rss", "/atom/cs.AI", "/", "/rss/cs.CL?keywords=llm"):
        response = client.get(path)
        assert response.status_code == 200, path
        # The CDN keeps it between refreshes (hours apart) and serves it stale while it fetches anew.
        directives = cache_directives(response.headers["cache-control"])
        assert "public" in directives
        assert 60 <= int(directives["s-maxage"]) <= 3600
        assert int(directives["stale-while-revalidate"]) >= 3600
        etag, modified = response.headers["etag"], response.headers["last-modified"]
        assert etag.startswith('"')
        assert not etag.startswith("W/")
        assert email.utils.parsedate_to_datetime(modified) == store.load_state().last_success_at.replace(microsecond=0)  # type: ignore[union-attr]
        by_etag = client.get(path, headers={"If-None-Match": etag})
        assert (by_etag.status_code, by_etag.content) == (304, b"")
        assert by_etag.headers["etag"] == etag
        by_date = client.get(path, headers={"If-Modified-Since": modified})
        assert (by_date.status_code, by_date.content) == (304, b"")
        older = email.utils.format_datetime(email.utils.parsedate_to_datetime(modified).replace(year=2000), usegmt=True)
        assert client.get(path, headers={"If-Modified-Since": older}).status_code == 200
        future = email.utils.format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)
        assert client.get(path, headers={"If-Modified-Since": future}).status_code == 200  # invalid: ignored
        assert client.get(path, headers={"If-None-Match": '"other"', "If-Modified-Since": modified}).status_code == 200
    for path in ("/health", "/config", "/rss/cs.XX", "/rss?limit=0"):
        assert client.get(path).headers["cache-control"] == "no-store", path


MODIFIED = datetime(2024, 11, 28, 12, 0, 0, tzinfo=UTC)
ETAG = etag_of(b"body")
LATER = email.utils.format_datetime(MODIFIED + timedelta(hours=1), usegmt=True)
EARLIER = email.utils.format_datetime(MODIFIED - timedelta(hours=1), usegmt=True)


def answer(headers: dict[str, str], modified: datetime | None = MODIFIED, now: datetime | None = None) -> int:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return conditional_response(Request(scope), b"body", "text/plain", modified, now=now).status_code


def test_the_same_bytes_give_the_same_strong_etag() -> None:
    assert etag_of(b"body") == ETAG
    assert etag_of(b"other") != ETAG
    assert ETAG.startswith('"')


def test_if_none_match_wins_over_if_modified_since() -> None:
    """RFC 9110: with If-None-Match present, If-Modified-Since is ignored."""
    assert answer({"If-None-Match": ETAG}) == 304
    assert answer({"If-None-Match": '"other"', "If-Modified-Since": LATER}) == 200
    assert answer({"If-None-Match": f'"a", W/{ETAG}'}) == 304  # weak comparison, lists
    assert answer({"If-None-Match": "*"}) == 304


def test_if_modified_since_compares_whole_seconds() -> None:
    assert answer({"If-Modified-Since": LATER}) == 304
    assert answer({"If-Modified-Since": EARLIER}) == 200
    assert answer({"If-Modified-Since": "not a date"}) == 200
    assert answer({"If-Modified-Since": LATER}, modified=None) == 200
    assert answer({}) == 200


def test_an_if_modified_since_later_than_the_server_s_clock_is_ignored() -> None:
    """The date is read by the server's clock (RFC 9110 13.1.3), and one later than it is invalid
    (RFC 2616 14.25). Honouring it would answer 304 to a client whose clock runs ahead, even
    after the feed changes."""
    assert answer({"If-Modified-Since": LATER}, now=MODIFIED + timedelta(minutes=30)) == 200
    assert answer({"If-Modified-Since": LATER}, now=MODIFIED + timedelta(hours=1)) == 304  # not later: valid
    assert answer({"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}) == 200  # the server's own clock


@pytest.mark.slow
def test_a_refresh_that_finds_nothing_new_keeps_every_feeds_bytes(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    """Readers poll with If-None-Match: a 304 from arXiv must stay a 304 for them."""
    refresh(config, settings, store)
    clock = ManualClock()
    client = TestClient(create_app(settings, store, clock=clock))
    paths = ("/rss", "/atom/cs.AI", "/json/cs.CL", "/rss/cs.CL?keywords=agent")
    before = {path: client.get(path) for path in paths}
    assert refresh(config, settings, store).outcome == "not-modified"
    arxiv_server.serve(read(COMBINED) + b"\n")  # a 200 with other bytes but the same papers
    assert refresh(config, settings, store).outcome == "ok"
    clock.advance(1.0)
    for path in paths:
        again = client.get(path)
        assert again.headers["etag"] == before[path].headers["etag"], path
        assert again.headers["last-modified"] == before[path].headers["last-modified"], path
    # A real change (a revised paper) does change them.
    arxiv_server.serve(read(COMBINED).replace(b"oai:arXiv.org:2411.18077v1", b"oai:arXiv.org:2411.18077v2"))
    refresh(config, settings, store)
    clock.advance(1.0)
    changed = client.get("/rss")
    assert changed.headers["etag"] != before["/rss"].headers["etag"]
    assert changed.headers["last-modified"] != before["/rss"].headers["last-modified"]


def encoding_request(accept_encoding: str | None) -> Request:
    headers = [] if accept_encoding is None else [(b"accept-encoding", accept_encoding.encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


@pytest.mark.parametrize(
    ("accept_encoding", "takes"),
    [
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        ("x-gzip", True),
        ("*", True),
        ("GZIP;Q=0.5", True),
        ("gzip;q=0", False),  # RFC 9110 12.5.3: q=0 is "not acceptable"
        ("gzip;q=0, *", False),  # named beats the wildcard
        ("*;q=0", False),
        ("deflate, br", False),
        ("identity", False),
        ("gzip;q=x", False),
        ("", False),
        (None, False),  # no header: the plain form (curl, scripts), as servers answer
    ],
)
def test_gzip_goes_only_to_a_client_whose_accept_encoding_takes_it(accept_encoding: str | None, takes: bool) -> None:
    assert accepts_gzip(encoding_request(accept_encoding)) is takes


def test_each_form_has_its_own_etag_and_either_one_gives_a_304() -> None:
    plain, packed = b"<rss>" + b"paper " * 1000 + b"</rss>", gzip.compress(b"<rss>" + b"paper " * 1000 + b"</rss>")

    def answer(accept_encoding: str | None, if_none_match: str | None = None) -> Response:
        request = encoding_request(accept_encoding)
        if if_none_match is not None:
            headers = [*request.scope["headers"], (b"if-none-match", if_none_match.encode())]
            request = Request({**request.scope, "headers": headers})
        return negotiated_response(request, packed, lambda: plain, "application/rss+xml", MODIFIED, etag_of(plain))

    zipped, unzipped = answer("gzip"), answer(None)
    assert (zipped.body, zipped.headers["content-encoding"]) == (packed, "gzip")
    assert unzipped.body == plain
    assert "content-encoding" not in unzipped.headers
    assert zipped.headers["vary"] == unzipped.headers["vary"] == "Accept-Encoding"
    assert unzipped.headers["etag"] == etag_of(plain)
    assert zipped.headers["etag"] == gzip_etag(etag_of(plain)) != etag_of(plain)  # RFC 9110 8.8.3: strong, per form
    for held in (zipped, unzipped):
        for accepts in ("gzip", None):
            assert answer(accepts, held.headers["etag"]).status_code == 304
    assert answer("gzip", '"other"').status_code == 200


def test_feeds_go_gzip_compressed_to_readers_that_take_it_and_plain_to_others(served: TestClient) -> None:
    for path in ("/rss", "/atom/cs.CL?keywords=speech", "/json", "/"):
        zipped = served.get(path, headers={"Accept-Encoding": "gzip"})
        plain = served.get(path, headers={"Accept-Encoding": "identity"})
        assert zipped.headers["content-encoding"] == "gzip", path
        assert int(zipped.headers["content-length"]) < len(plain.content) / 3, path
        assert zipped.content == plain.content, path  # httpx inflates it: the same document
        assert "content-encoding" not in plain.headers, path
        for answer in (zipped, plain):  # a cache keeps the two apart
            assert "Accept-Encoding" in [v.strip() for v in answer.headers["vary"].split(",")], path

"""core.arxiv: parsing real recorded feeds, and fetching from a loopback arXiv."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from core import arxiv
from core.errors import FeedError, FetchError
from tests.arxiv_fake import COMBINED, EMPTY_WEEKDAY, EMPTY_WEEKEND, ERROR_FEED, STAT, FakeArxiv, read
from tests.loopback import Reply


@pytest.fixture(scope="module")
def combined() -> arxiv.ParsedFeed:
    return arxiv.parse_feed(read(COMBINED))


def by_id(feed: arxiv.ParsedFeed, paper_id: str) -> arxiv.Paper:
    return next(p for p in feed.papers if p.id == paper_id)


# --- parsing ---------------------------------------------------------------------------


def test_parses_every_item_of_the_combined_feed(combined: arxiv.ParsedFeed) -> None:
    assert len(combined.papers) == 1504
    assert len({p.id for p in combined.papers}) == 1504
    types = [p.announce_type for p in combined.papers]
    assert (types.count("new"), types.count("replace"), types.count("cross")) == (926, 569, 9)
    assert combined.published == datetime(2024, 11, 28, 5, 0, tzinfo=UTC)


def test_parses_every_field_of_a_real_item(combined: arxiv.ParsedFeed) -> None:
    paper = by_id(combined, "2411.17758")
    assert paper.version == 1
    assert paper.title == "PP-LEM: Efficient and Privacy-Preserving Clearance Mechanism for Local Energy Markets"
    assert paper.authors == ["Kamil Erdayandi", "Mustafa Asan Mustafa"]
    assert paper.abstract.startswith("In this paper, we propose a novel Privacy-Preserving clearance mechanism")
    assert paper.abstract.endswith("while still providing user privacy protection.")
    assert paper.categories == ["cs.GT", "cs.CR"]
    assert paper.announce_type == "new"
    assert paper.announced == datetime(2024, 11, 28, 5, 0, tzinfo=UTC)
    assert paper.rights == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert paper.doi == "10.1016/j.segan.2024.101477"
    assert paper.journal_ref == "Sustainable Energy, Grids and Networks, Volume 39, 2024, 101477, ISSN 2352-4677"
    assert paper.abs_url == "https://arxiv.org/abs/2411.17758"
    assert paper.pdf_url == "https://arxiv.org/pdf/2411.17758v1"
    assert paper.html_url == "https://arxiv.org/html/2411.17758v1"


def test_strips_the_announce_prefix_and_keeps_multiline_abstracts_whole(combined: arxiv.ParsedFeed) -> None:
    for paper in combined.papers:
        assert not paper.abstract.startswith("arXiv:"), paper.id
        assert "Announce Type:" not in paper.abstract[:60], paper.id
    # This abstract spans several lines with a LaTeX display formula; '<' must survive as text.
    paper = by_id(combined, "2411.17730")
    assert paper.abstract.startswith("In this paper, we study the almost sure well-posedness")
    assert r"where $\frac{1}{3}<s<1$ and" in paper.abstract
    assert "\n" not in paper.abstract


def test_replacements_carry_their_version(combined: arxiv.ParsedFeed) -> None:
    paper = by_id(combined, "1401.3665")
    assert (paper.announce_type, paper.version, paper.versioned_id) == ("replace", 4, "1401.3665v4")


def test_splits_authors_at_top_level_commas_and_drops_affiliations(combined: arxiv.ParsedFeed) -> None:
    with_affiliations = next(p for p in combined.papers if p.authors and p.authors[0] == "Tianliang Yan")
    assert with_affiliations.authors == [
        "Tianliang Yan",
        "Yubao Liu",
        "Leonid Prokhorov",
        "Jiri Smetana",
        "Haixing Miao",
        "Yiqiu Ma",
        "Vincent Boyer",
        "Denis Martynov",
    ]
    assert arxiv.parse_authors("A. Smith, B. Jones (MIT, Cambridge), and C. Wu") == ["A. Smith", "B. Jones", "C. Wu"]
    assert arxiv.parse_authors("") == []


def test_items_without_their_own_date_take_the_channel_date() -> None:
    feed = arxiv.parse_feed(read(STAT))
    assert len(feed.papers) == 123
    assert {p.announced for p in feed.papers} == {datetime(2024, 3, 26, 4, 0, tzinfo=UTC)}
    types = [p.announce_type for p in feed.papers]
    assert types.count("replace-cross") == 20
    assert by_id(feed, "2403.15527").categories == ["stat.ML", "cs.LG"]


@pytest.mark.parametrize("name", [EMPTY_WEEKEND, EMPTY_WEEKDAY])
def test_an_empty_feed_is_a_quiet_day(name: str) -> None:
    feed = arxiv.parse_feed(read(name))
    assert feed.quiet
    assert feed.papers == []


def test_an_error_feed_names_the_bad_category() -> None:
    with pytest.raises(FeedError) as error:
        arxiv.parse_feed(read(ERROR_FEED))
    assert "Bad archive 'astroph'" in str(error.value)
    assert "config.json" in str(error.value)


@pytest.mark.parametrize("body", [b"<html><body><h1>503 Service Unavailable</h1></body></html>", b"", b'{"error": 1}'])
def test_bytes_that_are_not_a_feed_are_an_error(body: bytes) -> None:
    with pytest.raises(FeedError, match="not a feed"):
        arxiv.parse_feed(body)


def test_xml_illegal_control_characters_are_removed() -> None:
    # Real abstracts sometimes carry a form feed (\x0c), which is illegal in XML.
    body = read(COMBINED).replace(b"Abstract: This study investigates", b"Abstract: This\x0c study investigates", 1)
    paper = by_id(arxiv.parse_feed(body), "2411.17700")
    assert paper.abstract.startswith("This study investigates the influence")
    assert "\x0c" not in paper.abstract


def test_old_style_ids_are_understood() -> None:
    body = read(COMBINED).replace(b"oai:arXiv.org:2411.17700v1", b"oai:arXiv.org:astro-ph/0601001v3", 1)
    paper = arxiv.parse_feed(body).papers[0]
    assert (paper.id, paper.version) == ("astro-ph/0601001", 3)
    assert paper.abs_url == "https://arxiv.org/abs/astro-ph/0601001"


# --- fetching --------------------------------------------------------------------------


def fetch(fake: FakeArxiv, interval: float = 0.0, **kwargs: str | None) -> arxiv.FetchResult:
    with httpx.Client(timeout=5) as client:
        url = arxiv.feed_url(fake.rss_base, ["cs.AI", "cs.LG"])
        return arxiv.fetch_feed(client, url, arxiv.Throttle(interval), **kwargs)  # type: ignore[arg-type]


def test_one_request_for_all_categories_with_a_descriptive_user_agent(arxiv_server: FakeArxiv) -> None:
    result = fetch(arxiv_server)
    assert result.status == 200
    assert result.body == read(COMBINED)
    assert [r.path for r in arxiv_server.requests] == ["/rss/cs.AI+cs.LG"]
    assert arxiv_server.requests[0].headers["user-agent"].startswith("arxiv-rss-bot/")
    assert result.etag == arxiv_server.etag
    assert result.last_modified == arxiv_server.last_modified


def test_conditional_get_sends_validators_and_understands_304(arxiv_server: FakeArxiv) -> None:
    first = fetch(arxiv_server)
    second = fetch(arxiv_server, etag=first.etag, last_modified=first.last_modified)
    assert second.status == 304
    assert second.body == b""
    assert second.etag == first.etag
    assert arxiv_server.requests[1].headers["if-none-match"] == first.etag
    assert arxiv_server.requests[1].headers["if-modified-since"] == first.last_modified


def test_retries_5xx_and_429_honouring_retry_after(arxiv_server: FakeArxiv) -> None:
    arxiv_server.queue(Reply(503, b"busy", {"Retry-After": "1"}), Reply(429, b"slow down"))
    result = fetch(arxiv_server)
    assert result.status == 200
    assert len(arxiv_server.requests) == 3
    assert arxiv_server.requests[1].at - arxiv_server.requests[0].at >= 1.0  # Retry-After: 1 was honoured


def test_gives_up_after_three_attempts_with_a_clear_error(arxiv_server: FakeArxiv) -> None:
    arxiv_server.queue(*[Reply(502, b"bad gateway")] * 3)
    with pytest.raises(FetchError, match=r"failed after 3 attempts: HTTP 502"):
        fetch(arxiv_server)
    assert len(arxiv_server.requests) == 3


def test_a_long_retry_after_is_not_waited_out(arxiv_server: FakeArxiv) -> None:
    arxiv_server.queue(Reply(503, b"maintenance", {"Retry-After": "3600"}))
    with pytest.raises(FetchError, match="retry after 3600 s"):
        fetch(arxiv_server)
    assert len(arxiv_server.requests) == 1


def test_client_errors_are_not_retried(arxiv_server: FakeArxiv) -> None:
    arxiv_server.queue(Reply(404, b"no such feed"))
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(arxiv_server)
    assert len(arxiv_server.requests) == 1


def test_requests_are_spaced_by_the_minimum_interval(arxiv_server: FakeArxiv) -> None:
    arxiv_server.queue(Reply(500), Reply(500))
    fetch(arxiv_server, interval=0.3)
    gaps = [b.at - a.at for a, b in zip(arxiv_server.requests, arxiv_server.requests[1:], strict=False)]
    assert len(gaps) == 2
    assert all(gap >= 0.3 for gap in gaps)


def test_a_timeout_is_retried_then_reported(arxiv_server: FakeArxiv) -> None:
    arxiv_server.queue(*[Reply(200, b"late", delay_s=0.5)] * 3)
    with httpx.Client(timeout=0.1) as client, pytest.raises(FetchError, match="ReadTimeout"):
        arxiv.fetch_feed(client, arxiv_server.rss_base + "/cs.AI", arxiv.Throttle(0.0))
    assert len(arxiv_server.requests) == 3


def test_connection_refused_is_a_fetch_error() -> None:
    with httpx.Client(timeout=1) as client, pytest.raises(FetchError, match="ConnectError"):
        arxiv.fetch_feed(client, "http://127.0.0.1:9/rss/cs.AI", arxiv.Throttle(0.0))


def test_throttle_accounts_for_a_request_made_by_an_earlier_run() -> None:
    slept: list[float] = []
    throttle = arxiv.Throttle(3.0, clock=time.monotonic, sleep=slept.append)
    throttle.seed(1.0)
    throttle.wait()
    assert len(slept) == 1
    assert 1.9 < slept[0] <= 2.0

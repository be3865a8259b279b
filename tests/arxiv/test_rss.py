"""core.arxiv.rss: parsing real recorded feeds, and fetching from a loopback arXiv."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from core.arxiv import rss
from core.arxiv.client import ArxivClient
from core.errors import FeedError
from core.settings import Settings
from core.text import limits
from core.text.latex import readable
from tests.arxiv_fake import COMBINED, EMPTY_WEEKDAY, EMPTY_WEEKEND, ERROR_FEED, STAT, FakeArxiv, read
from tests.feed_rules import illegal_in_feeds


@pytest.fixture(scope="module")
def combined() -> rss.ParsedFeed:
    return rss.parse_feed(read(COMBINED))


def by_id(feed: rss.ParsedFeed, paper_id: str) -> rss.Paper:
    return next(p for p in feed.papers if p.id == paper_id)


# --- parsing ---------------------------------------------------------------------------


def test_parses_every_item_of_the_combined_feed(combined: rss.ParsedFeed) -> None:
    assert len(combined.papers) == 1504
    assert len({p.id for p in combined.papers}) == 1504
    types = [p.announce_type for p in combined.papers]
    assert (types.count("new"), types.count("replace"), types.count("cross")) == (926, 569, 9)
    assert combined.papers[0].announced == datetime(2024, 11, 28, 5, 0, tzinfo=UTC)


def test_parses_every_field_of_a_real_item(combined: rss.ParsedFeed) -> None:
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


def test_strips_the_announce_prefix_and_keeps_multiline_abstracts_whole(combined: rss.ParsedFeed) -> None:
    for paper in combined.papers:
        assert not paper.abstract.startswith("arXiv:"), paper.id
        assert "Announce Type:" not in paper.abstract[:60], paper.id
    # This abstract spans several lines with a LaTeX display formula; '<' must survive as text.
    paper = by_id(combined, "2411.17730")
    assert paper.abstract.startswith("In this paper, we study the almost sure well-posedness")
    assert r"where $\frac{1}{3}<s<1$ and" in paper.abstract
    assert "\n" not in paper.abstract


def test_replacements_carry_their_version(combined: rss.ParsedFeed) -> None:
    paper = by_id(combined, "1401.3665")
    assert (paper.announce_type, paper.version, paper.versioned_id) == ("replace", 4, "1401.3665v4")


def test_splits_authors_at_top_level_commas_and_drops_affiliations(combined: rss.ParsedFeed) -> None:
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
    assert rss.parse_authors("A. Smith, B. Jones (MIT, Cambridge), and C. Wu") == ["A. Smith", "B. Jones", "C. Wu"]
    assert rss.parse_authors("") == []


def test_items_without_their_own_date_take_the_channel_date() -> None:
    feed = rss.parse_feed(read(STAT))
    assert len(feed.papers) == 123
    assert {p.announced for p in feed.papers} == {datetime(2024, 3, 26, 4, 0, tzinfo=UTC)}
    types = [p.announce_type for p in feed.papers]
    assert types.count("replace-cross") == 20
    assert by_id(feed, "2403.15527").categories == ["stat.ML", "cs.LG"]


@pytest.mark.parametrize("name", [EMPTY_WEEKEND, EMPTY_WEEKDAY])
def test_an_empty_feed_is_a_quiet_day(name: str) -> None:
    feed = rss.parse_feed(read(name))
    assert feed.papers == []  # a quiet day, not an error
    assert feed.papers == []


def test_an_error_feed_names_the_bad_category() -> None:
    with pytest.raises(FeedError) as error:
        rss.parse_feed(read(ERROR_FEED))
    assert "Bad archive 'astroph'" in str(error.value)
    assert "config.json" in str(error.value)


@pytest.mark.parametrize("body", [b"<html><body><h1>503 Service Unavailable</h1></body></html>", b"", b'{"error": 1}'])
def test_bytes_that_are_not_a_feed_are_an_error(body: bytes) -> None:
    with pytest.raises(FeedError, match="not a feed"):
        rss.parse_feed(body)


def test_xml_illegal_control_characters_are_removed() -> None:
    # Real abstracts sometimes carry a form feed (\x0c), which is illegal in XML.
    body = read(COMBINED).replace(b"Abstract: This study investigates", b"Abstract: This\x0c study investigates", 1)
    paper = by_id(rss.parse_feed(body), "2411.17700")
    assert paper.abstract.startswith("This study investigates the influence")
    assert "\x0c" not in paper.abstract


def test_old_style_ids_are_understood() -> None:
    body = read(COMBINED).replace(b"oai:arXiv.org:2411.17700v1", b"oai:arXiv.org:astro-ph/0601001v3", 1)
    paper = rss.parse_feed(body).papers[0]
    assert (paper.id, paper.version) == ("astro-ph/0601001", 3)
    assert paper.abs_url == "https://arxiv.org/abs/astro-ph/0601001"


def test_a_lone_surrogate_is_a_feed_error_not_a_crash() -> None:
    body = read(COMBINED).replace(b"<title>", b"<title>&#xD800; ", 2)
    with pytest.raises(FeedError, match="could not be parsed"):
        rss.parse_feed(body)


@pytest.mark.parametrize("date", [b"Mon, 01 Jan 0001 00:00:00 +0000", b"Sat, 01 Jan 1983 00:00:00 -0500"])
def test_items_dated_before_arxiv_are_a_feed_error(date: bytes) -> None:
    body = re.sub(rb"<pubDate>[^<]*</pubDate>", b"<pubDate>" + date + b"</pubDate>", read(COMBINED), count=3)
    with pytest.raises(FeedError, match="before arXiv existed"):
        rss.parse_feed(body)


# --- fetching (the client's retries, limits and throttle: test_arxiv_client.py) ------------


def fetch(fake: FakeArxiv, **kwargs: str | None) -> rss.FetchResult:
    settings = Settings(arxiv_rss_base=fake.rss_base, arxiv_min_interval_s=0)
    with ArxivClient(settings) as client:
        return rss.fetch_feed(client, rss.feed_url(fake.rss_base, ["cs.AI", "cs.LG"]), **kwargs)


def test_one_request_for_all_categories(arxiv_server: FakeArxiv) -> None:
    result = fetch(arxiv_server)
    assert result.status == 200
    assert result.body == read(COMBINED)
    assert [r.path for r in arxiv_server.requests] == ["/rss/cs.AI+cs.LG"]
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


# --- caps (core.text.limits): nothing oversized gets past the parser ------------------------


def huge_words(megabytes: int) -> bytes:
    return b"lorem ipsum dolor " * (megabytes * 2**20 // 18)


@pytest.mark.parametrize("megabytes", [11, 15])
def test_an_oversized_abstract_is_cut_to_its_cap_at_a_word(megabytes: int) -> None:
    body = read(COMBINED).replace(b"Abstract: This study investigates", b"Abstract: " + huge_words(megabytes), 1)
    parsed = rss.parse_feed(body)
    paper = by_id(parsed, "2411.17700")
    assert len(paper.abstract) <= limits.ABSTRACT
    assert paper.abstract.endswith(("lorem\u2026", "ipsum\u2026", "dolor\u2026"))
    assert parsed.cut == 1  # said, for the refresh's state
    assert all(len(p.abstract) < 3000 for p in parsed.papers if p.id != "2411.17700")  # the others untouched


def test_every_text_field_of_an_item_is_capped() -> None:
    names = b", ".join(b"Author Number %d" % n for n in range(limits.AUTHORS + 5))
    body = read(COMBINED)
    first = body.index(b"<item>")
    item_end = body.index(b"</item>", first)
    item = body[first:item_end]
    item = re.sub(rb"<title>[^<]*</title>", b"<title>" + b"Title " * 1000 + b"</title>", item, count=1)
    item = re.sub(rb"<dc:creator>[^<]*</dc:creator>", b"<dc:creator>" + names + b"</dc:creator>", item, count=1)
    item = item.replace(b"<category>", b"<category>" + b"x" * 500 + b"</category><category>", 1)
    body = body[:first] + item + body[item_end:]
    parsed = rss.parse_feed(body)
    paper = parsed.papers[0]
    assert len(paper.title) <= limits.TITLE
    assert paper.title.endswith("Title\u2026")
    assert len(paper.authors) <= limits.AUTHORS
    assert sum(len(name) + 2 for name in paper.authors) <= limits.AUTHORS_CHARS + limits.AUTHOR
    assert all(len(c) <= limits.TOKEN for c in paper.categories)
    assert parsed.cut == 1


def test_real_papers_are_never_cut(combined: rss.ParsedFeed) -> None:
    assert combined.cut == 0
    assert not any(p.abstract.endswith("\u2026") for p in combined.papers)


def test_control_characters_in_any_field_never_reach_a_feed() -> None:
    """The RSS is an inflow: what it sends is cleaned here, once (feeds clean nothing)."""
    body = read(COMBINED)
    first = body.index(b"<item>")
    end = body.index(b"</item>", first)
    item = body[first:end]
    for tag in (b"<title>", b"<dc:creator>", b"<category>", b"<dc:rights>"):
        item = item.replace(tag, tag + b"\x0c\x01", 1)
    item = item.replace(b"Abstract: This", b"Abstract: Th\x1bis\x0b", 1)
    paper = rss.parse_feed(body[:first] + item + body[end:]).papers[0]
    assert paper.title.startswith("Exploring the Impact")
    assert illegal_in_feeds([paper, readable(paper)]) == []

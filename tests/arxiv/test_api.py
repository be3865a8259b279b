"""core.arxiv.api: the one reader of the arXiv API's Atom, on recorded real answers, and its
requests against a loopback API."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from core.arxiv.api import Answer, fetch_by_ids, find_venue, parse_answer, search_query
from core.arxiv.client import ArxivClient
from core.errors import FeedError
from core.settings import Settings
from core.text import limits
from tests.arxiv_fake import API_CS_AI, API_ERROR, API_OLD_STYLE, API_TWO, API_ZERO, FakeArxiv, read
from tests.feed_rules import illegal_in_feeds
from tests.loopback import Reply

API_MATH = "api-cat-math.NT-OR-math.AG-2026-06-29.xml"


@pytest.fixture(scope="module")
def math_page() -> Answer:
    return parse_answer(read(API_MATH))


def test_a_search_answer_gives_every_paper_field_and_the_count(math_page: Answer) -> None:
    assert math_page.total == 101536
    assert len(math_page.entries) == 5
    first = math_page.entries[0]
    assert (first.id, first.version) == ("2606.28256", 1)
    assert first.title == "The quantum connection and its mod p reduction"
    assert first.authors == ["Dan Pomerleano", "Paul Seidel"]
    assert first.categories == ["math.SG", "math.AG"]
    assert first.submitted == datetime(2026, 6, 26, 16, 41, 31, tzinfo=UTC)
    assert (first.metadata.primary_category, first.metadata.comment) == ("math.SG", "60 pages")


def test_an_entry_becomes_a_paper_as_the_stage_wants_it(math_page: Answer) -> None:
    first = math_page.entries[0]
    backfilled = first.as_paper(["math.AG"], backfilled=True)
    assert backfilled.announce_type == "cross"  # primary math.SG is not followed
    assert backfilled.announced == first.submitted  # dated by submission
    assert backfilled.backfilled
    assert backfilled.metadata == first.metadata
    liked = first.as_paper(["math"], backfilled=False)
    assert liked.announce_type == "new"  # the archive covers math.SG
    assert not liked.backfilled


def test_lookups_by_id_give_the_metadata() -> None:
    two = parse_answer(read(API_TWO)).entries
    assert [e.id for e in two] == ["1707.08567"]  # the other id does not exist
    assert two[0].metadata.primary_category == "cs.IT"
    assert two[0].metadata.comment is not None
    assert two[0].metadata.comment.startswith("44 pages")
    assert [e.id for e in parse_answer(read(API_OLD_STYLE)).entries] == ["astro-ph/0601001"]
    assert parse_answer(read(API_ZERO)).entries == []
    error = parse_answer(read(API_ERROR))
    assert (error.entries, error.total) == ([], 1)  # arXiv's error entry is not a paper


def test_comments_journal_refs_and_dois_become_metadata() -> None:
    many = {e.id: e for e in parse_answer(read(API_CS_AI)).entries}
    assert len(many) == 20
    assert "cs/0203003" in many  # old-style ids
    with_code = [e.metadata.code_links for e in many.values() if e.metadata.code_links]
    assert with_code == [["https://github.com/ismailtrm/ceng_404"]]
    option_critic = many["2011.02565"].metadata
    assert (option_critic.doi, option_critic.journal_ref) == ("10.48550/arXiv.2011.02565", "arXiv:2011.02565 [cs.AI]")
    assert many["2011.02565"].as_paper(["cs.AI"], backfilled=False).doi == "10.48550/arXiv.2011.02565"
    assert many["cs/0203003"].metadata.journal_ref == "Journal of Logic and Computation, 5(1) (1995) pp. 111-122"
    venues = {i: e.metadata.venue for i, e in many.items() if e.metadata.venue}
    assert venues == {
        "cs/9909009": "Proc. 5th International Conference on Principles and Practice of Constraint Programming "
        "as an invited talk",
        "2204.11574": "ACL 2022",
        "2405.04697": "ISAAC 2024",
    }  # whole: 106 characters were cut mid-word at 100 before


def test_a_venue_over_its_cap_is_cut_between_words() -> None:
    venue = find_venue("Accepted at " + "Very Long Workshop Name " * 40)
    assert venue is not None
    assert len(venue) <= limits.VENUE
    assert venue.endswith("Name\u2026") or venue.endswith("Very\u2026") or venue.endswith("Long\u2026")


def test_bytes_that_are_no_feed_are_refused() -> None:
    with pytest.raises(FeedError, match="not a feed"):
        parse_answer(b"<html>busy</html>")


@pytest.mark.parametrize(
    ("comment", "venue"),
    [
        ("Accepted at ICLR 2026. Code: https://github.com/x/y", "ICLR 2026"),
        (
            "12 pages; to appear in Proc. 5th International Conference on Principles",
            "Proc. 5th International Conference on Principles",
        ),
        ("ISAAC 2024", "ISAAC 2024"),
        ('"NLP Power" workshop at ACL 2022.', "ACL 2022"),
        ("16 pages, 5 figures", None),
    ],
)
def test_venues(comment: str, venue: str | None) -> None:
    assert find_venue(comment) == venue


def test_the_query_names_categories_and_archives() -> None:
    since, until = datetime(2024, 11, 23, 12, tzinfo=UTC), datetime(2024, 11, 30, 12, 5, tzinfo=UTC)
    assert search_query(["cs.AI", "astro-ph", "hep-th"], since, until) == (
        "(cat:cs.AI OR cat:astro-ph* OR cat:hep-th) AND submittedDate:[202411231200 TO 202411301205]"
    )


def api_settings(fake: FakeArxiv) -> Settings:
    return Settings(arxiv_api_base=fake.server.url + "/api/query", arxiv_min_interval_s=0.0)


def test_batches_are_retried_then_skipped(arxiv_server: FakeArxiv) -> None:
    """Lookups share the client's retry policy; a batch that still fails only goes unanswered."""
    ids = [f"2411.{n:05d}" for n in range(250)]
    first = ",".join(ids[:100])
    arxiv_server.api_errors[first] = Reply(503, b"busy", {"Retry-After": "5"})
    arxiv_server.api_answers[",".join(ids[100:200])] = API_TWO
    slept: list[float] = []
    with ArxivClient(api_settings(arxiv_server), sleep=slept.append) as client:
        entries, unanswered = fetch_by_ids(client, arxiv_server.server.url + "/api/query", ids)
    assert [e.id for e in entries] == ["1707.08567"]
    assert unanswered == ids[:100]
    batches = [parse_qs(urlsplit(r.path).query)["id_list"][0].count(",") + 1 for r in arxiv_server.api_requests]
    assert batches == [100, 100, 100, 100, 50]  # the failing batch three times, then the others once
    assert slept == [5.0, 5.0]  # Retry-After honoured between the attempts
    assert "max_results=100" in arxiv_server.api_requests[0].path


def test_an_answer_that_is_no_feed_costs_only_its_batch(arxiv_server: FakeArxiv) -> None:
    arxiv_server.api_errors["1707.08567"] = Reply(200, b"<html>busy</html>", {"Content-Type": "text/html"})
    arxiv_server.api_answers["astro-ph/0601001"] = API_OLD_STYLE
    base = arxiv_server.server.url + "/api/query"
    with ArxivClient(api_settings(arxiv_server)) as client:
        assert fetch_by_ids(client, base, ["1707.08567"]) == ([], ["1707.08567"])
        entries, unanswered = fetch_by_ids(client, base, ["astro-ph/0601001"])
    assert ([e.id for e in entries], unanswered) == (["astro-ph/0601001"], [])


@pytest.mark.parametrize("megabytes", [11, 15])
def test_an_oversized_abstract_from_the_api_is_cut_and_said(megabytes: int) -> None:
    words = b"lorem ipsum dolor " * (megabytes * 2**20 // 18)
    body = read(API_TWO).replace(b"<summary>The 10th", b"<summary>" + words + b"The 10th", 1)
    entry = next(e for e in parse_answer(body).entries if e.id == "1707.08567")
    assert len(entry.abstract) <= limits.ABSTRACT
    assert entry.abstract.endswith("\u2026")
    assert entry.cut == ("abstract",)
    assert all(not e.cut for e in parse_answer(read(API_CS_AI)).entries)  # real papers are never cut


def test_every_text_field_of_an_api_entry_is_capped() -> None:
    head, entries = read(API_TWO).split(b"<entry>", 1)
    words = b"word " * 50_000
    entries = entries.replace(b"<title>", b"<title>" + words, 1).replace(b"<name>", b"<name>" + b"N" * 5000, 1)
    comment = re.compile(rb"<arxiv:comment[^>]*>")
    journal = b"<arxiv:journal_ref>" + words + b"</arxiv:journal_ref>"
    entries = comment.sub(lambda m: journal + m[0] + words, entries, count=1)
    body = head + b"<entry>" + entries
    entry = parse_answer(body).entries[0]
    meta = entry.metadata
    assert len(entry.title) <= limits.TITLE
    assert meta.comment is not None
    assert len(meta.comment) <= limits.COMMENT
    assert meta.journal_ref is not None
    assert len(meta.journal_ref) <= limits.JOURNAL_REF
    assert all(len(name) <= limits.AUTHOR for name in entry.authors)
    assert set(entry.cut) >= {"title", "comment", "authors"}


def test_control_characters_in_any_field_never_reach_a_feed() -> None:
    """The API is an inflow: a control character makes its Atom malformed, and feedparser's
    lenient parse then keeps it in whatever it reads (a category, the primary category); the
    parser cleans every field, once (feeds clean nothing)."""
    head, rest = read(API_TWO).split(b"<entry>", 1)
    rest = rest.replace(b'term="cs.IT"', b'term="cs.I\x0cT"').replace(b"<title>", b"<title>\x01", 1)
    rest = rest.replace(b"<name>", b"<name>\x1b", 1).replace(b"44 pages", b"44\x0b pages", 1)
    entries = parse_answer(head + b"<entry>" + rest).entries
    papers = [e.as_paper(["cs.IT"], backfilled=False) for e in entries]
    assert papers[0].categories[0] == "cs.I T"
    assert illegal_in_feeds(papers) == []

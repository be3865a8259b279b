"""core.refresh.ingest: the day's RSS, read whole even when arXiv cuts a combined feed at
2,000 items (the loopback arXiv caps as arXiv's RSS help says)."""

from __future__ import annotations

import pytest

from core import taxonomy
from core.arxiv.client import ArxivClient
from core.arxiv.rss import parse_feed
from core.config import parse_config
from core.models import RefreshState
from core.refresh import refresh
from core.refresh.ingest import RSS_CAP, fetch_day, merge_items
from core.settings import Settings
from core.store.sqlite import SqliteStore
from tests.arxiv_fake import FakeArxiv, busy_day
from tests.loopback import Reply
from tests.papers import make_paper

ARCHIVES = [
    "astro-ph", "cond-mat", "physics", "quant-ph", "math", "cs", "econ", "eess", "gr-qc", "hep-ex",
    "hep-lat", "hep-ph", "hep-th", "math-ph", "nlin", "nucl-ex", "nucl-th", "q-bio", "q-fin", "stat",
]  # fmt: skip


def followed_ids(feed: bytes, names: list[str]) -> set[str]:
    return {p.id for p in parse_feed(feed).papers if taxonomy.listed(p.categories, names)}


@pytest.mark.slow
def test_a_cut_day_over_every_archive_is_read_per_archive_and_every_paper_stored(
    arxiv_server: FakeArxiv, settings: Settings
) -> None:
    day = busy_day(2)
    assert len(parse_feed(day).papers) > RSS_CAP
    arxiv_server.serve(day)
    arxiv_server.by_category = True
    config = parse_config({"categories": ARCHIVES, "enrich": False, "backfill": {"enabled": False}})
    store = SqliteStore(settings.data_dir / "busy.sqlite3")
    report = refresh(config, settings, store)
    assert {p.id for p in store.load_papers()} == followed_ids(day, ARCHIVES)
    assert report.stored == len(followed_ids(day, ARCHIVES))
    paths = [r.path for r in arxiv_server.requests]
    assert paths[0] == "/rss/" + "+".join(ARCHIVES)
    assert sorted(paths[1:]) == sorted(f"/rss/{a}" for a in ARCHIVES)
    assert report.rss_requests == 21 == store.load_state().counts["rss_requests"]
    assert "rss-requests 21" in report.line()
    assert "cut at 2,000 items; read in 21 requests" in store.load_state().message
    assert store.load_state().etag is not None  # read whole: the next refresh may ask for a 304


@pytest.mark.slow
def test_an_archive_cut_too_is_read_per_category(arxiv_server: FakeArxiv, settings: Settings) -> None:
    day = busy_day(5)
    arxiv_server.serve(day)
    arxiv_server.by_category = True
    names = ["cs.AI", "cs.LG", "cs.CV", "cs.CL", "math"]
    with ArxivClient(settings) as client:
        read = fetch_day(client, settings.arxiv_rss_base, parse_config({"categories": names}), RefreshState())
    assert {p.id for p in read.papers} == followed_ids(day, names)
    assert [r.path for r in arxiv_server.requests] == [
        "/rss/cs.AI+cs.LG+cs.CV+cs.CL+math",
        "/rss/cs.AI+cs.LG+cs.CV+cs.CL",  # cut too: one category at a time
        "/rss/cs.AI",
        "/rss/cs.LG",
        "/rss/cs.CV",
        "/rss/cs.CL",
        "/rss/math",
    ]
    assert read.requests == 7
    assert read.unread == []


@pytest.mark.slow  # over a second: real time
def test_a_day_not_read_whole_keeps_no_validators_and_says_what_is_missing(
    arxiv_server: FakeArxiv, settings: Settings
) -> None:
    day = busy_day(2)
    arxiv_server.serve(day)
    arxiv_server.by_category = True
    arxiv_server.files["/rss/math"] = Reply(404, b"Not Found", {"Content-Type": "text/plain"})
    names = ["cs", "math", "physics"]
    with ArxivClient(settings) as client:
        read = fetch_day(client, settings.arxiv_rss_base, parse_config({"categories": names}), RefreshState())
    assert read.unread == ["math"]
    assert (read.etag, read.last_modified) == (None, None)  # the next refresh reads the day again
    assert "math not read whole" in read.message
    assert followed_ids(day, ["cs", "physics"]) <= {p.id for p in read.papers}


def test_merged_items_keep_one_per_id_the_latest_version_and_new_before_cross() -> None:
    cross = make_paper(id="2411.00001", announce_type="cross")
    new = make_paper(id="2411.00001", announce_type="new")
    revised = make_paper(id="2411.00002", version=2, announce_type="replace")
    merged = merge_items([cross, make_paper(id="2411.00002"), new, revised])
    assert [(p.id, p.version, p.announce_type) for p in merged] == [
        ("2411.00001", 1, "new"),
        ("2411.00002", 2, "replace"),
    ]

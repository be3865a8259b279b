"""core.refresh: the pipeline end to end against a loopback arXiv, and the no-data-loss rule."""

from __future__ import annotations

import dataclasses
import re
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest

from core.arxiv.rss import parse_feed
from core.config import Config, parse_config
from core.errors import AppError, FeedError, FetchError, LockedError
from core.refresh import refresh
from core.refresh.catalog import merge_papers
from core.selection.topics import shown_ids
from core.settings import Settings
from core.store import Store
from core.store.sqlite import SqliteStore
from core.store.upstash import UpstashStore
from core.text import limits
from tests.arxiv_fake import COMBINED, EMPTY_WEEKDAY, EMPTY_WEEKEND, ERROR_FEED, STAT, FakeArxiv, next_day, read
from tests.conftest import TEST_CONFIG
from tests.loopback import Reply
from tests.papers import corrupt_stored, make_paper, stored


def snapshot(store: Store) -> list[str]:
    return [p.model_dump_json() for p in store.load_papers()]


def test_first_refresh_fetches_ranks_and_stores(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    report = refresh(config, settings, store)
    assert [r.path for r in arxiv_server.requests] == ["/rss/cs.AI+cs.LG+cs.CL"]
    assert (report.outcome, report.fetched, report.followed, report.new, report.updated) == ("ok", 1504, 367, 367, 0)
    assert report.stored == 367
    assert 0 < report.matched < 367
    state = store.load_state()
    assert (state.outcome, state.etag, state.counts["new"]) == ("ok", arxiv_server.etag, 367)
    # Every stored paper is in a followed category, listed under exactly those categories.
    for paper in store.load_papers():
        assert paper.listed_in
        assert set(paper.listed_in) <= {"cs.AI", "cs.LG", "cs.CL"}
        assert set(paper.listed_in) <= set(paper.categories)
    best = store.load_papers("cs.CL")[0]
    assert best.match.score >= 2.5
    assert best.match.hits


def test_second_refresh_is_a_conditional_get_that_changes_nothing(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    refresh(config, settings, store)
    before = snapshot(store)
    report = refresh(config, settings, store)
    assert report.outcome == "not-modified"
    assert arxiv_server.requests[1].headers["if-none-match"] == arxiv_server.etag
    assert snapshot(store) == before
    assert store.load_state().outcome == "not-modified"


@pytest.mark.slow
def test_a_replacement_updates_the_stored_paper(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    refresh(config, settings, store)
    first = stored(store, "2411.18077")
    assert first is not None
    assert (first.version, first.announce_type) == (1, "new")
    revised = read(COMBINED).replace(b"oai:arXiv.org:2411.18077v1", b"oai:arXiv.org:2411.18077v2")
    revised = revised.replace(b"arXiv:2411.18077v1 Announce Type: new", b"arXiv:2411.18077v1 Announce Type: replace")
    arxiv_server.serve(revised)
    report = refresh(config, settings, store)
    assert (report.new, report.updated, report.stored) == (0, 1, 367)
    paper = stored(store, "2411.18077")
    assert paper is not None
    assert paper.version == 2
    assert paper.announce_type == "new"  # keeps its place in the feeds it was first announced in
    assert paper.pdf_url.endswith("2411.18077v2")


def test_merge_dedups_by_versionless_id() -> None:
    v1 = make_paper("Old title", id="2411.00001", version=1)
    v2 = make_paper("New title", id="2411.00001", version=2, announce_type="replace")
    merged, new, updated = merge_papers([v1], [v2, make_paper(id="2411.00002")])
    assert (new, updated) == (1, 1)
    assert [(p.id, p.version, p.title, p.announce_type) for p in merged] == [
        ("2411.00001", 2, "New title", "new"),
        ("2411.00002", 1, "A paper", "new"),
    ]
    same, new, updated = merge_papers(merged, [v1])  # an older version never wins
    assert (new, updated) == (0, 0)
    assert same[0].version == 2


def test_days_back_drops_papers_older_than_the_window(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    arxiv_server.serve(STAT)  # 26 March 2024
    assert refresh(config, settings, store).stored > 0
    stat_ids = {p.id for p in store.load_papers()}
    arxiv_server.serve(COMBINED)  # 28 November 2024: March is far outside days_back
    refresh(config, settings, store)
    assert stat_ids.isdisjoint({p.id for p in store.load_papers()})
    assert store.load_status()[1] == 367


FAILURES = [
    pytest.param([Reply(503, b"down", {"Retry-After": "0"})] * 3, FetchError, id="503-three-times"),
    pytest.param([Reply(200, b"<html><body>Oops</body></html>", {"Content-Type": "text/html"})], FeedError, id="html"),
    pytest.param([Reply(200, read(COMBINED)[:50_000])], FeedError, id="truncated-xml"),
    pytest.param([Reply(200, read(ERROR_FEED))], FeedError, id="error-feed"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("replies", "error"), FAILURES)
def test_a_failed_refresh_keeps_the_last_good_papers(
    arxiv_server: FakeArxiv,
    settings: Settings,
    store: Store,
    config: Config,
    replies: list[Reply],
    error: type[AppError],
) -> None:
    refresh(config, settings, store)
    before, good = snapshot(store), store.load_state()
    arxiv_server.serve(b"unused")
    arxiv_server.queue(*replies)
    with pytest.raises(error):
        refresh(config, settings, store)
    assert snapshot(store) == before
    state = store.load_state()
    assert state.outcome == "error"
    assert state.message.startswith("arxiv: ")
    assert state.last_success_at == good.last_success_at
    assert state.etag == good.etag


@pytest.mark.slow
@pytest.mark.parametrize("empty", [EMPTY_WEEKEND, EMPTY_WEEKDAY])
def test_an_empty_feed_is_a_quiet_day_that_keeps_everything(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config, empty: str
) -> None:
    refresh(config, settings, store)
    before = snapshot(store)
    arxiv_server.serve(empty)
    report = refresh(config, settings, store)
    assert report.outcome == "quiet"
    assert snapshot(store) == before
    assert store.load_state().outcome == "quiet"


def test_unreachable_arxiv_is_recorded_for_the_index_page(settings: Settings, store: Store, config: Config) -> None:
    offline = dataclasses.replace(settings, arxiv_rss_base="http://127.0.0.1:9/rss")
    with pytest.raises(FetchError):
        refresh(config, offline, store)
    state = store.load_state()
    assert state.outcome == "error"
    assert "ConnectError" in state.message
    assert store.load_status()[1] == 0


def test_a_held_lock_stops_a_second_refresh_before_any_request(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    assert store.acquire_lock("someone-else", 60)
    with pytest.raises(LockedError, match="another refresh is running"):
        refresh(config, settings, store)
    assert arxiv_server.requests == []
    store.release_lock("someone-else")
    assert refresh(config, settings, store).outcome == "ok"
    assert store.acquire_lock("after", 60)  # the refresh released its lock


@pytest.mark.slow
def test_an_edited_config_takes_effect_at_the_next_refresh(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    refresh(config, settings, store)
    edited = parse_config({**TEST_CONFIG, "keywords": ["diffusion"], "categories": ["cs.LG"]})
    report = refresh(edited, settings, store)
    assert report.outcome == "ok"  # a new category list means a new URL: no stale ETag is sent
    assert "if-none-match" not in arxiv_server.requests[1].headers
    assert arxiv_server.requests[1].path == "/rss/cs.LG"
    assert {tuple(p.listed_in) for p in store.load_papers("cs.LG")} == {("cs.LG",)}
    assert all(h.keyword == "diffusion" for p in store.load_papers() for h in p.match.hits)
    assert store.load_papers("cs.AI") == []


@pytest.mark.slow
@pytest.mark.parametrize("future", [b"Fri, 01 Jan 2100 00:00:00 -0500", b"Tue, 10 Dec 2024 00:00:00 -0500"])
def test_a_future_dated_item_cannot_push_stored_papers_out(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config, future: bytes
) -> None:
    """The window follows the refresh's clock; an item dated ahead of it is dated now."""
    now = datetime(2024, 11, 28, 12, tzinfo=UTC)
    refresh(config, settings, store, now=now)
    stored = {p.id for p in store.load_papers()}
    # A new cs.AI paper dated in the future (the first item, renumbered and recategorised).
    body = read(COMBINED)
    item = body[body.index(b"<item>") : body.index(b"</item>") + 7]
    forged = re.sub(rb"<pubDate>[^<]*</pubDate>", b"<pubDate>" + future + b"</pubDate>", item)
    forged = forged.replace(b"2411.17700", b"2411.99999").replace(b"<category>cs.CY", b"<category>cs.AI")
    arxiv_server.serve(body.replace(item, forged + item))
    report = refresh(config, settings, store, now=now + timedelta(hours=1))
    assert report.future_dated == 1
    after = {p.id: p for p in store.load_papers()}
    assert set(after) == stored | {"2411.99999"}  # nothing dropped
    assert after["2411.99999"].announced == now + timedelta(hours=1)
    assert "dated in the future" in store.load_state().message


def test_only_papers_aged_out_by_the_clock_are_dropped(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    now = datetime(2024, 11, 28, 12, tzinfo=UTC)
    refresh(config, settings, store, now=now)
    old = make_paper("An old paper", id="2411.00001", announced=now - timedelta(days=30), categories=["cs.AI"])
    store.save_papers([*store.load_papers(), old])
    arxiv_server.serve(EMPTY_WEEKDAY)  # a quiet day: the window still follows the clock
    report = refresh(config, settings, store, now=now + timedelta(days=1))
    ids = {p.id for p in store.load_papers()}
    assert report.outcome == "quiet"
    assert old.id not in ids  # 30 days old by the clock: gone
    assert len(ids) == 367  # the last announcement's papers all stay


def test_time_passing_alone_never_empties_the_feeds(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    """A deployment left off for a month, then a weekend: the last announced papers stay."""
    now = datetime(2024, 11, 28, 12, tzinfo=UTC)
    refresh(config, settings, store, now=now)
    arxiv_server.serve(EMPTY_WEEKEND)
    refresh(config, settings, store, now=now + timedelta(days=30))
    assert len(store.load_papers()) == 367


@pytest.mark.slow
def test_stored_papers_are_matched_again_only_when_the_config_changes(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    """Matching is paid for new papers only, until config.json's matching rules change."""
    refresh(config, settings, store)
    assert store.load_state().config_hash
    marked = [p.model_copy(update={"match": p.match.model_copy(update={"score": 99.0})}) for p in store.load_papers()]
    store.save_papers(marked)
    refresh(config, settings, store)  # the same feed (304): nothing new, nothing matched again
    assert {p.match.score for p in store.load_papers()} == {99.0}
    edited = parse_config({**TEST_CONFIG, "keywords": ["diffusion"]})
    refresh(edited, settings, store)
    assert 99.0 not in {p.match.score for p in store.load_papers()}


@pytest.mark.slow
def test_a_refresh_reads_whole_only_what_is_new_or_changed(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config, request: pytest.FixtureRequest
) -> None:
    """A stored paper nothing happened to is carried by its entry: made unreadable behind the
    store's back, it stays through a next-day refresh, and goes only when config.json's
    matching changes (every paper read and matched again)."""
    day = datetime(2024, 11, 28, 12, tzinfo=UTC)
    refresh(config, settings, store, now=day)
    index = store.load_index()
    shown = set(shown_ids(index, config))
    sent = {p.id for p in parse_feed(next_day(read(COMBINED))).papers}
    sent_again = len({e.id for e in index} & sent)  # replacements of older papers keep their ids
    untouched = next(e for e in reversed(index) if e.id not in shown and e.id not in sent)
    corrupt_stored(store, untouched.id)
    arxiv_server.serve(next_day(read(COMBINED)))
    shim = request.getfixturevalue("upstash") if isinstance(store, UpstashStore) else None
    if shim is not None:
        shim.reset_counts()
    report = refresh(config, settings, store, now=day + timedelta(days=1))
    assert (report.new, report.stored) == (367 - sent_again, 734 - sent_again) == (249, 616)
    if shim is not None:  # the papers arXiv sent again and the feed's top ones, not the 367 stored
        assert shim.fields_read["arb:paper"] <= sent_again + len(shown), shim.fields_read
    after = store.load_index()
    assert untouched in after
    assert [e.id for e in after[:3]] == [p.id for p in store.load_papers(None, limit=3)]
    edited = parse_config({**TEST_CONFIG, "keywords": ["diffusion"]})
    report = refresh(edited, settings, store, now=day + timedelta(days=1))
    assert untouched.id not in {e.id for e in store.load_index()}
    assert report.stored == 615


def with_huge_abstract(megabytes: int) -> bytes:
    """The recorded day, its first item a cs.AI paper with an abstract of ``megabytes`` MB."""
    words = b"lorem ipsum dolor " * (megabytes * 2**20 // 18)
    body = read(COMBINED).replace(b"Abstract: This study investigates", b"Abstract: " + words, 1)
    return body.replace(b"<category>cs.CY", b"<category>cs.AI", 1)


@pytest.mark.slow
def test_an_oversized_abstract_is_cut_stored_and_said(
    arxiv_server: FakeArxiv, settings: Settings, store: Store, config: Config
) -> None:
    """An 11 MB abstract (over Upstash's 10 MB request limit) is cut at parse time: the save
    goes through on both stores, and the state says an item was cut."""
    arxiv_server.serve(with_huge_abstract(11))
    report = refresh(config, settings, store, now=datetime(2024, 11, 28, 12, tzinfo=UTC))
    assert report.cut == 1
    paper = {p.id: p for p in store.load_papers()}["2411.17700"]
    assert len(paper.abstract) <= limits.ABSTRACT
    assert paper.abstract.endswith("\u2026")
    state = store.load_state()
    assert "1 item(s) had a field over its size cap" in state.message
    assert state.counts["cut"] == 1


@pytest.mark.slow
def test_a_refresh_with_a_15_mb_abstract_stays_in_bounded_memory(
    arxiv_server: FakeArxiv, settings: Settings, config: Config
) -> None:
    """Measured with tracemalloc: a refresh of the recorded day peaks at 17 MiB; with a 15 MB
    abstract at 97 MiB (feedparser holding the document), where storing it whole peaked at
    228 MiB and wrote a 33 MB SQLite file."""
    arxiv_server.serve(with_huge_abstract(15))
    store = SqliteStore(settings.data_dir / "huge.sqlite3")
    tracemalloc.start()
    try:
        refresh(config, settings, store, now=datetime(2024, 11, 28, 12, tzinfo=UTC))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 150 * 2**20
    assert sum(f.stat().st_size for f in settings.data_dir.glob("huge.sqlite3*")) < 10 * 2**20

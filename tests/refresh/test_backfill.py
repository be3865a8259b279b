"""core.refresh.backfill: a first deploy on a quiet day shows the last week, from the arXiv API.

A loopback arXiv API answers searches over the recorded day's real papers spread back over ten
days of submissions (``backfill_corpus``), in the shape of arXiv's recorded API answers (the
reading of real answers is tests/arxiv/test_api.py's).
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from core import taxonomy
from core.arxiv.client import ArxivClient
from core.config import Config, parse_config
from core.errors import ConfigError
from core.models import BackfillState
from core.refresh import refresh
from core.refresh.backfill import RESERVE_S, lacking, run_backfill
from core.settings import Settings
from core.store import Store
from core.store.sqlite import SqliteStore
from core.text import limits
from core.web.app import create_app
from tests.arxiv_fake import COMBINED, EMPTY_WEEKEND, FakeArxiv, api_page, backfill_corpus
from tests.conftest import TEST_CONFIG, no_wait, process_env
from tests.loopback import Reply
from tests.papers import make_paper
from tests.waiting import ManualClock

NOW = datetime(2024, 11, 30, 12, tzinfo=UTC)  # a Saturday: arXiv's RSS has nothing
CONFIG = parse_config({**TEST_CONFIG, "backfill": {"page_size": 100}})
CORPUS = backfill_corpus()
WIDE = parse_config({**TEST_CONFIG, "days_back": 10, "backfill": {"page_size": 100}})  # three pages


def in_window(config: Config = CONFIG, now: datetime = NOW) -> set[str]:
    since = now - timedelta(days=config.days_back)
    return {p.id for p in CORPUS if taxonomy.listed(p.categories, config.categories) and p.announced >= since}


@pytest.fixture
def api(arxiv_server: FakeArxiv) -> FakeArxiv:
    arxiv_server.serve(EMPTY_WEEKEND)
    arxiv_server.api_corpus = CORPUS
    return arxiv_server


def searched(fake: FakeArxiv, n: int = -1) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(fake.search_requests[n].path).query).items()}


def test_a_first_refresh_on_a_quiet_day_fills_the_feeds(api: FakeArxiv, settings: Settings, store: Store) -> None:
    report = refresh(CONFIG, settings, store, now=NOW, sleep=no_wait)
    stored = store.load_papers()
    assert {p.id for p in stored} == in_window()
    assert report.outcome == "quiet"
    assert report.backfilled == len(in_window()) > 150
    assert all(p.backfilled and p.metadata is not None for p in stored)
    by_id = {p.id: p for p in CORPUS}
    for paper in stored:  # "new" where the primary category is followed, "cross" elsewhere
        primary = by_id[paper.id].categories[0]
        assert paper.announce_type == ("new" if taxonomy.listed([primary], CONFIG.categories) else "cross")
        assert paper.announced == by_id[paper.id].announced  # dated by submission
    state = store.load_state()
    assert state.backfill.filled == sorted(CONFIG.categories)
    assert not state.backfill.active
    assert state.backfill.papers == report.backfilled
    assert state.backfill.first_day is not None
    assert state.backfill.first_day >= NOW - timedelta(days=7)
    with TestClient(create_app(settings, store)) as client:
        assert client.get("/rss?min_score=0").text.count("<item>") == CONFIG.max_papers
        page = client.get("/").text
        assert f"{report.backfilled} papers came from the arXiv API backfill" in page
        assert client.get("/health").json()["refresh"]["backfill"]["papers"] == report.backfilled
    # The next refresh finds the window full: no search again.
    searches = len(api.search_requests)
    again = refresh(CONFIG, settings, store, now=NOW + timedelta(hours=1), sleep=no_wait)
    assert len(api.search_requests) == searches
    assert again.backfilled == 0
    assert {p.id for p in store.load_papers()} == in_window(now=NOW + timedelta(hours=1))  # the window moved


def test_pages_follow_the_submission_date_down_to_days_back(api: FakeArxiv, settings: Settings) -> None:
    store = SqliteStore(settings.data_dir / "paging.sqlite3")
    refresh(CONFIG, settings, store, now=NOW, sleep=no_wait)
    wanted = len(in_window())
    assert len(api.search_requests) == wanted // 100 + 1  # full pages, then the short last one
    first, last = searched(api, 0), searched(api)
    assert (
        first["search_query"]
        == "(cat:cs.AI OR cat:cs.LG OR cat:cs.CL) AND submittedDate:[202411231200 TO 202411301200]"
    )
    assert (first["sortBy"], first["sortOrder"], first["max_results"], first["start"]) == (
        "submittedDate",
        "descending",
        "100",
        "0",
    )
    # Each next page asks for what was submitted before the oldest paper of the one before.
    assert last["search_query"].endswith("TO " + last["search_query"].split(" TO ")[1])
    assert last["search_query"] < first["search_query"]


def test_the_page_cap_stops_a_run_and_the_next_run_goes_on(api: FakeArxiv, settings: Settings) -> None:
    store = SqliteStore(settings.data_dir / "cap.sqlite3")
    capped = WIDE.model_copy(update={"backfill": WIDE.backfill.model_copy(update={"max_pages": 2})})
    assert len(in_window(capped)) > 200
    first = refresh(capped, settings, store, now=NOW, sleep=no_wait)
    assert len(api.search_requests) == 2
    assert 190 < first.backfilled <= 200  # two pages; the boundary minute is read twice
    state = store.load_state().backfill
    assert state.active
    assert "max_pages" in state.message
    assert state.until is not None
    assert state.until == min(p.announced for p in store.load_papers()).replace(tzinfo=UTC)
    while store.load_state().backfill.active:
        refresh(capped, settings, store, now=NOW, sleep=no_wait)
        assert len(api.search_requests) < 10
    assert {p.id for p in store.load_papers()} == in_window(capped)


def test_pages_are_three_seconds_apart(api: FakeArxiv, settings: Settings) -> None:
    clock = ManualClock()
    api.clock = clock
    arxiv_rules = dataclasses.replace(settings, arxiv_min_interval_s=3.0)
    client = ArxivClient(arxiv_rules, clock=clock, sleep=clock.advance)
    refresh(WIDE, arxiv_rules, SqliteStore(settings.data_dir / "spaced.sqlite3"), client=client, now=NOW)
    gaps = [b - a for a, b in zip(api.search_times, api.search_times[1:], strict=False)]
    assert len(gaps) >= 2
    assert min(gaps) >= 3.0


def test_the_time_budget_stops_a_run_and_a_later_run_resumes(api: FakeArxiv, settings: Settings) -> None:
    clock = ManualClock()
    arxiv_rules = dataclasses.replace(settings, arxiv_min_interval_s=3.0)
    store = SqliteStore(settings.data_dir / "budget.sqlite3")
    # Enough time for the RSS request and two API pages (3 s apart) before the reserve.
    deadline = clock() + RESERVE_S + 5.0
    client = ArxivClient(arxiv_rules, clock=clock, sleep=clock.advance, deadline=deadline)
    first = refresh(WIDE, arxiv_rules, store, client=client, now=NOW, deadline=deadline)
    state = store.load_state().backfill
    assert state.active
    assert "time budget" in state.message
    assert 0 < first.backfilled < len(in_window(WIDE))
    assert len(api.search_requests) == 2
    later = ArxivClient(arxiv_rules, clock=clock, sleep=clock.advance)
    refresh(WIDE, arxiv_rules, store, client=later, now=NOW + timedelta(hours=1))
    assert not store.load_state().backfill.active
    assert {p.id for p in store.load_papers()} == in_window(WIDE, NOW + timedelta(hours=1))


@pytest.mark.slow
def test_an_announcement_replaces_the_backfilled_paper(api: FakeArxiv, settings: Settings) -> None:
    store = SqliteStore(settings.data_dir / "announced.sqlite3")
    refresh(CONFIG, settings, store, now=NOW, sleep=no_wait)
    backfilled = {p.id: p for p in store.load_papers()}
    api.serve(COMBINED)  # arXiv announces the recorded day (dated 28 November, 05:00 UTC)
    report = refresh(CONFIG, settings, store, now=NOW + timedelta(days=1), sleep=no_wait)
    papers = store.load_papers()
    assert len(papers) == len({p.id for p in papers})  # nothing twice
    announced = [p for p in papers if p.id in backfilled and not p.backfilled]
    assert len(announced) > 100
    assert report.new == len({p.id for p in papers} - set(backfilled))  # the others were shown already
    for paper in announced:
        assert paper.announced == datetime(2024, 11, 28, 5, tzinfo=UTC)
        assert paper.metadata == backfilled[paper.id].metadata  # the API's metadata stays
    assert {p.announce_type for p in announced} <= {"new", "cross", "replace", "replace-cross"}


@pytest.mark.slow
def test_an_api_error_changes_nothing_stored(api: FakeArxiv, settings: Settings, store: Store) -> None:
    api.serve(COMBINED)
    # The API lists other papers than the RSS announced (the same texts under other ids).
    api.api_corpus = [p.model_copy(update={"id": p.id.replace("2411.", "2410.")}) for p in CORPUS]
    plain = parse_config({**TEST_CONFIG, "backfill": {"enabled": False}})
    refresh(plain, settings, store, now=NOW, sleep=no_wait)
    before = store.load_papers()
    api.api_errors["search"] = Reply(503, b"down", {"Retry-After": "1"})
    report = refresh(CONFIG, settings, store, now=NOW + timedelta(hours=1), sleep=no_wait)
    assert report.backfilled == 0
    assert store.load_papers() == before
    state = store.load_state()
    assert state.outcome == "not-modified"  # the refresh itself went on
    assert "arXiv API failed" in state.backfill.message
    assert state.backfill.active  # to be tried again
    del api.api_errors["search"]
    again = refresh(CONFIG, settings, store, now=NOW + timedelta(hours=2), sleep=no_wait)
    assert again.backfilled > 0
    assert not store.load_state().backfill.active


def test_a_newly_followed_category_is_filled(api: FakeArxiv, settings: Settings) -> None:
    store = SqliteStore(settings.data_dir / "new-category.sqlite3")
    refresh(CONFIG, settings, store, now=NOW, sleep=no_wait)
    wider = parse_config({**TEST_CONFIG, "categories": [*CONFIG.categories, "stat.ML"], "backfill": {"page_size": 100}})
    refresh(wider, settings, store, now=NOW + timedelta(hours=1), sleep=no_wait)
    assert "cat:stat.ML) AND" in searched(api)["search_query"]  # only the new category is asked for
    assert store.load_state().backfill.filled == sorted(wider.categories)
    assert {p.id for p in store.load_papers()} == in_window(wider, NOW + timedelta(hours=1))


@pytest.mark.slow
def test_on_demand_with_progress(api: FakeArxiv, settings: Settings) -> None:
    api.api_corpus = backfill_corpus(newest=datetime.now(UTC) - timedelta(hours=1))  # the command runs now
    env = process_env(settings, ARXIV_MIN_INTERVAL_S="0")
    done = subprocess.run(
        [sys.executable, "-m", "core", "backfill", "--days", "3"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    progress = re.search(r"^backfill: page 1, (\d+) papers, back to \d{4}-\d\d-\d\d", done.stdout, re.MULTILINE)
    assert progress is not None, done.stdout
    assert f"backfilled {progress[1]};" in done.stdout  # the refresh line says how many it added
    bad = subprocess.run(
        [sys.executable, "-m", "core", "backfill", "--days", "0"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2
    assert "'0' is not a number of days from 1 to 90" in bad.stderr


def test_a_store_with_every_announcement_day_lacks_nothing() -> None:
    days = [datetime(2024, 11, d, 5, tzinfo=UTC) for d in (25, 26, 27, 28, 29)]  # Monday to Friday
    week = [make_paper(id=f"2411.0000{n}", announced=day) for n, day in enumerate(days)]
    since = datetime(2024, 11, 23, 12, tzinfo=UTC)
    assert lacking(week, ["cs.AI", "cs.LG"], since, NOW) == ["cs.LG"]
    assert lacking(week[1:], ["cs.AI"], since, NOW) == ["cs.AI"]


def test_a_day_the_rss_did_not_read_whole_counts_as_missing() -> None:
    days = [datetime(2024, 11, d, 5, tzinfo=UTC) for d in (25, 26, 27, 28, 29)]
    week = [make_paper(id=f"2411.0000{n}", announced=day) for n, day in enumerate(days)]
    since = datetime(2024, 11, 23, 12, tzinfo=UTC)
    assert lacking(week, ["cs.AI"], since, NOW, cut={("cs.AI", date(2024, 11, 29))}) == ["cs.AI"]
    assert lacking(week, ["cs.AI"], since, NOW, cut={("cs.LG", date(2024, 11, 29))}) == []


def test_a_filled_category_whose_day_was_cut_is_filled_again(api: FakeArxiv, settings: Settings) -> None:
    days = [datetime(2024, 11, d, 5, tzinfo=UTC) for d in (25, 26, 27, 28, 29)]
    week = [make_paper(id=f"2411.0000{n}", announced=day, listed_in=["cs.AI"]) for n, day in enumerate(days)]
    config = parse_config({**TEST_CONFIG, "categories": ["cs.AI"], "backfill": {"page_size": 100}})
    filled = BackfillState(filled=["cs.AI"])
    since = NOW - timedelta(days=config.days_back)
    with ArxivClient(settings) as client:
        whole = run_backfill(client, settings.arxiv_api_base, config, week, filled, NOW, since)
        assert (whole.pages, api.search_requests) == (0, [])  # a day read whole: nothing to fill
        cut = run_backfill(
            client, settings.arxiv_api_base, config, week, filled, NOW, since, cut={("cs.AI", days[-1].date())}
        )
    assert cut.pages >= 1
    assert "cat:cs.AI" in searched(api)["search_query"]
    assert cut.state.filled == ["cs.AI"]  # filled again, from the API


@pytest.mark.slow
def test_the_first_visit_of_a_new_deployment_shows_the_last_week(api: FakeArxiv, settings: Settings) -> None:
    """On Vercel the first cron may be a day away: the first page visit runs the first refresh."""
    api.api_corpus = backfill_corpus(newest=datetime.now(UTC) - timedelta(hours=2))  # it runs now
    deployed = dataclasses.replace(settings, first_visit_refresh=True)
    store = SqliteStore(settings.data_dir / "first-visit.sqlite3")
    with TestClient(create_app(deployed, store)) as client:
        assert "<item>" not in client.get("/rss").text  # a feed reader's poll does not start it
        assert api.search_requests == []
        progress = client.get("/").text  # streamed while the refresh runs, then a reload
        assert api.search_requests
        assert '<meta http-equiv="refresh"' in progress
        page = client.get("/").text
        assert "papers came from the arXiv API backfill" in page
        assert 'class="paper' in page
        assert client.get("/rss?min_score=0").text.count("<item>") == 50
        searches = len(api.search_requests)
        client.get("/")
        assert len(api.search_requests) == searches  # once
    with TestClient(create_app(settings, SqliteStore(settings.data_dir / "off.sqlite3"))) as client:
        assert "No papers yet: no refresh has run" in client.get("/").text  # off unless on Vercel


def test_first_visit_refresh_is_on_for_vercel_and_can_be_set() -> None:
    assert Settings.from_env({"VERCEL": "1"}).first_visit_refresh is True
    assert Settings.from_env({}).first_visit_refresh is False
    assert Settings.from_env({"VERCEL": "1", "FIRST_VISIT_REFRESH": "0"}).first_visit_refresh is False
    assert Settings.from_env({"FIRST_VISIT_REFRESH": "yes"}).first_visit_refresh is True
    with pytest.raises(ConfigError, match="FIRST_VISIT_REFRESH='maybe' is not a yes or no"):
        Settings.from_env({"FIRST_VISIT_REFRESH": "maybe"})


def test_a_backfill_that_finds_nothing_says_so(api: FakeArxiv, settings: Settings, store: Store) -> None:
    api.api_corpus = []  # the API lists nothing in the window
    lines: list[str] = []
    report = refresh(CONFIG, settings, store, now=NOW, sleep=no_wait, backfill_days=3, progress=lines.append)
    assert report.backfilled == 0
    assert lines == ["backfill: page 1: the arXiv API lists no papers submitted since 2024-11-27"]
    message = store.load_state().backfill.message
    assert message == "nothing to fill: the arXiv API lists no cs.AI, cs.LG, cs.CL papers submitted since 2024-11-27"


def test_a_failed_backfill_is_said_in_the_refresh_state(api: FakeArxiv, settings: Settings, store: Store) -> None:
    """A request that fails reads no page; the refresh still says why nothing was filled."""
    api.api_errors["search"] = Reply(400, b"<html>bad request</html>", {"Content-Type": "text/html"})
    refresh(CONFIG, settings, store, now=NOW, sleep=no_wait)
    state = store.load_state()
    assert "arXiv API failed" in state.backfill.message
    assert "Backfill: the arXiv API failed" in state.message


def test_a_paper_submitted_in_the_future_leaves_no_future_day_in_the_state(
    api: FakeArxiv, settings: Settings, store: Store
) -> None:
    """An upstream answering with a date far ahead: the paper is dated now (clamp_future), and
    the state's record of the days filled, which the page prints, says now too."""
    ahead = make_paper("A paper from the future", id="2411.99999", announced=datetime(9999, 12, 31, tzinfo=UTC))
    papers = [ahead, *CORPUS[:5]]
    api.api_errors["search"] = Reply(200, api_page(papers, len(papers), 0, 100, "cat:cs.AI"), {})
    refresh(CONFIG, settings, store, now=NOW, sleep=no_wait)
    fill = store.load_state().backfill
    assert fill.last_day == NOW
    assert fill.first_day is not None
    assert fill.first_day <= NOW
    assert {p.id: p.announced for p in store.load_papers()}["2411.99999"] == NOW
    with TestClient(create_app(settings, store)) as client:
        page = client.get("/").text
    assert "9999" not in page
    assert f"to {NOW:%Y-%m-%d}, until arXiv announces them" in page


def test_a_state_written_with_a_future_last_day_is_mended(api: FakeArxiv, settings: Settings, store: Store) -> None:
    plain = parse_config({**TEST_CONFIG, "backfill": {"enabled": False}})
    store.save_state(
        store.load_state().but(
            backfill=BackfillState(
                papers=3, first_day=NOW - timedelta(days=2), last_day=datetime(9999, 12, 31, tzinfo=UTC)
            )
        )
    )
    refresh(plain, settings, store, now=NOW, sleep=no_wait)
    fill = store.load_state().backfill
    assert (fill.first_day, fill.last_day) == (NOW - timedelta(days=2), NOW)


@pytest.mark.slow
def test_an_api_entry_with_an_11_mb_abstract_is_cut_and_saved(api: FakeArxiv, settings: Settings, store: Store) -> None:
    """Issue 25: one such entry (under the client's 20 MB answer cap) made every save on
    Upstash exceed its 10 MB request limit, run after run. It is cut as it is parsed."""
    huge = make_paper("Huge", "lorem ipsum dolor " * (11 * 2**20 // 18), id="2411.99998", announced=NOW)
    papers = [huge, *CORPUS[:5]]
    api.api_errors["search"] = Reply(200, api_page(papers, len(papers), 0, 100, "cat:cs.AI"), {})
    report = refresh(CONFIG, settings, store, now=NOW, sleep=no_wait)
    assert report.cut == 1
    stored = {p.id: p for p in store.load_papers()}["2411.99998"]
    assert len(stored.abstract) <= limits.ABSTRACT
    assert "1 item(s) had a field over its size cap" in store.load_state().message

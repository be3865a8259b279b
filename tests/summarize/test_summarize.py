"""core.summarize: real SDK and httpx clients against a loopback DashScope, end to end."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from fastapi.testclient import TestClient
from fpdf import FPDF

from core.arxiv.rss import parse_feed
from core.config import Config, parse_config
from core.models import Paper
from core.refresh import refresh, summarize_stored
from core.refresh.catalog import merge_papers
from core.refresh.rank import rank_for_config
from core.selection.select import kept_by_config
from core.settings import Settings
from core.store import Store
from core.store.sqlite import SqliteStore
from core.summarize import open_summarizer
from core.summarize.pipeline import HANG_GRACE_S, make_summaries, summary_key
from core.web.app import create_app
from tests.arxiv_fake import COMBINED, FakeArxiv, read
from tests.conftest import TEST_CONFIG, no_wait
from tests.dashscope_fake import FakeDashScope
from tests.feed_rules import illegal_in_feeds
from tests.loopback import Reply

NOW = datetime(2024, 11, 28, 12, tzinfo=UTC)


def make_config(**summary: object) -> Config:
    base = {"max_papers": 5, "concurrency": 3, "time_budget_s": 60, "request_timeout_s": 5, "source": "abstract"}
    return parse_config({**TEST_CONFIG, "summary": {**base, **summary}})


@pytest.fixture
def ds_settings(settings: Settings, dashscope: FakeDashScope) -> Settings:
    return dataclasses.replace(settings, dashscope_api_key="sk-test", dashscope_base_url=dashscope.native_base)


@pytest.fixture
def sqlite(settings: Settings) -> SqliteStore:
    return SqliteStore(settings.data_dir / "summaries.sqlite3")


@pytest.fixture(scope="module")
def ranked() -> list[Paper]:
    merged, _, _ = merge_papers([], parse_feed(read(COMBINED)).papers)
    return rank_for_config(merged, make_config())


def run(
    papers: list[Paper],
    config: Config,
    settings: Settings,
    store: Store,
    queue: list[str] = (),  # type: ignore[assignment]
    budget: float = 60,
    clock: Callable[[], float] = time.monotonic,
):  # type: ignore[no-untyped-def]
    summarizer = open_summarizer(config.summary, settings)
    assert summarizer is not None
    deadline = clock() + budget
    return make_summaries(
        list(papers), config, settings, store, summarizer, list(queue), NOW, deadline, clock=clock, sleep=no_wait
    )


@pytest.mark.slow
def test_top_papers_get_summaries_that_reach_the_feed(
    arxiv_server: FakeArxiv, dashscope: FakeDashScope, ds_settings: Settings, store: Store
) -> None:
    config = make_config()
    report = refresh(config, ds_settings, store, now=NOW, summarizer=open_summarizer(config.summary, ds_settings))
    assert report.summaries is not None
    assert (report.summaries.made, report.summaries.queued) == (5, 0)
    assert len(dashscope.calls) == 5
    top = [p for p in store.load_papers() if kept_by_config(p, config)][:5]
    assert all(p.summary is not None and p.summary.model == "qwen-long" for p in top)
    with TestClient(create_app(ds_settings, store)) as client:
        items = feedparser.parse(client.get("/rss").content).entries
        page = client.get("/").text
        health = client.get("/health").json()
    summarised = [i for i in items if "AI summary</b> by qwen-long (dashscope)" in i.summary]
    assert len(summarised) == 5
    first = summarised[0].summary
    assert first.index("AI summary") < first.index("<b>Abstract</b>")
    assert "<h2>Main contributions and what is new</h2>" in first
    assert page.count('<details class="summary">') == 5
    assert health["summaries"]["enabled"] is True
    assert health["refresh"]["counts"]["summary_made"] == 5
    assert health["refresh"]["counts"]["summary_tokens"] > 0


@pytest.mark.slow
def test_a_second_refresh_makes_no_calls(
    arxiv_server: FakeArxiv, dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore
) -> None:
    config = make_config()
    summarizer = open_summarizer(config.summary, ds_settings)
    refresh(config, ds_settings, sqlite, now=NOW, summarizer=summarizer)
    calls = len(dashscope.calls)
    report = refresh(config, ds_settings, sqlite, now=NOW, summarizer=summarizer)
    assert report.outcome == "not-modified"
    assert report.summaries is not None
    assert (report.summaries.made, report.summaries.cached) == (0, 5)
    assert len(dashscope.calls) == calls
    # A new version of a paper gets a new summary.
    top = next(p for p in sqlite.load_papers() if p.summary is not None)
    arxiv_server.serve(
        read(COMBINED).replace(f"oai:arXiv.org:{top.id}v1".encode(), f"oai:arXiv.org:{top.id}v2".encode())
    )
    report = refresh(config, ds_settings, sqlite, now=NOW, summarizer=summarizer)
    assert report.summaries is not None
    assert report.summaries.made == 1
    assert f"{top.id}v2" in dashscope.calls[-1].prompt


def test_the_time_budget_leaves_a_queue_that_the_next_run_finishes(
    dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    config = make_config(concurrency=1)
    started = time.monotonic()

    def clock() -> float:  # each call to the model takes 0.4 s of the budget
        return started + 0.4 * len(dashscope.calls)

    papers, report, queue = run(ranked, config, ds_settings, sqlite, budget=1.0, clock=clock)
    assert report.made == 3  # started at 0, 0.4 and 0.8 s; at 1.2 s the budget is spent
    assert report.queued == len(queue) == 2
    assert "time budget" in report.message
    papers, report, queue = run(papers, config, ds_settings, sqlite, queue=queue)
    assert queue == []
    summarised = [p.id for p in papers if p.summary is not None]
    assert len(summarised) == 5
    assert len(dashscope.calls) == 5


def test_summarize_command_continues_the_stored_queue(
    arxiv_server: FakeArxiv, dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore
) -> None:
    config = make_config()
    dashscope.always = "Throttling.RateQuota"
    summarizer = open_summarizer(config.summary, ds_settings)
    report = refresh(config, ds_settings, sqlite, now=NOW, summarizer=summarizer, sleep=no_wait)
    assert report.summaries is not None
    assert report.summaries.made == 0
    assert report.summaries.queued == 5
    assert "Throttling.RateQuota" in sqlite.load_state().summary_message
    assert len(sqlite.load_state().summary_queue) == 5
    dashscope.always = None
    again = summarize_stored(config, ds_settings, sqlite, open_summarizer(config.summary, ds_settings), now=NOW)
    assert (again.made, again.queued) == (5, 0)
    assert sqlite.load_state().summary_queue == []
    assert sum(p.summary is not None for p in sqlite.load_papers()) == 5


def test_rate_limits_back_off_and_retry(
    dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    dashscope.errors.extend(["Throttling.RateQuota", "InternalError"])
    config = make_config(max_papers=1)
    _, report, queue = run(ranked, config, ds_settings, sqlite)
    assert (report.made, report.failed, queue) == (1, 0, [])
    assert len(dashscope.calls) == 3  # 429, then 500, then the answer


def test_content_rejection_is_recorded_and_not_retried(
    dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    config = make_config(max_papers=2)
    first = next(p for p in ranked if kept_by_config(p, config))
    dashscope.reject_containing = first.versioned_id
    _papers, report, _ = run(ranked, config, ds_settings, sqlite)
    assert (report.made, report.rejected) == (1, 1)
    cached = sqlite.load_summaries([summary_key(first, config)])
    rejection = cached[summary_key(first, config)]
    assert rejection.status == "rejected"
    assert "DataInspectionFailed" in rejection.reason
    calls = len(dashscope.calls)
    from core.summarize.pipeline import attach_cached

    _, report, _ = run(attach_cached(list(ranked), config, sqlite), config, ds_settings, sqlite)
    assert len(dashscope.calls) == calls  # neither the rejected nor the summarised paper is asked again
    assert report.cached == 2


@pytest.mark.slow
def test_timeouts_are_retried_a_bounded_number_of_times(
    dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    dashscope.latency_s = 2.0
    config = make_config(max_papers=1, request_timeout_s=0.5)
    papers, report, _queue = run(ranked, config, ds_settings, sqlite)
    assert (report.made, report.failed) == (0, 1)
    assert len(dashscope.calls) == 3
    assert all(p.summary is None for p in papers)


@pytest.mark.slow
def test_a_trickling_model_cannot_hold_the_stage_past_its_budget(
    dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    """10 bytes every 0.2 s never trips a per-read timeout; the budget must hold regardless."""
    dashscope.trickle_s = 0.2
    config = make_config(max_papers=3, concurrency=3, request_timeout_s=60)
    started = time.monotonic()
    papers, report, queue = run(ranked, config, ds_settings, sqlite, budget=1.0)
    assert time.monotonic() - started < 1.0 + HANG_GRACE_S + 2.0
    assert (report.made, report.timed_out, report.queued) == (0, 3, 3)
    assert len(queue) == 3  # the next run tries them again
    assert "time budget" in report.message
    assert all(p.summary is None for p in papers)


def test_a_wrong_key_stops_the_run_with_a_clear_message(
    dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    wrong = dataclasses.replace(ds_settings, dashscope_api_key="sk-wrong")
    _, report, queue = run(ranked, make_config(concurrency=1), wrong, sqlite)
    assert report.made == 0
    assert "InvalidApiKey" in report.message
    assert len(queue) == 5
    assert len(dashscope.calls) == 1


def test_language_model_and_output_cap_reach_the_request(
    dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    config = make_config(max_papers=1, language="en", model="qwen-plus", max_output_tokens=900)
    papers, _, _ = run(ranked, config, ds_settings, sqlite)
    call = dashscope.calls[0]
    assert call.path == "/api/v1/services/aigc/text-generation/generation"
    assert call.model == "qwen-plus"
    assert call.max_tokens == 900
    assert "Write in English" in call.content("user")
    summary = next(p.summary for p in papers if p.summary is not None)
    assert (summary.model, summary.language, summary.source) == ("qwen-plus", "en", "abstract")
    chinese = make_config(max_papers=1)
    run(ranked, chinese, ds_settings, SqliteStore(ds_settings.data_dir / "zh.sqlite3"))
    assert "Write in Simplified Chinese" in dashscope.calls[-1].content("user")


def test_the_paper_is_a_system_message_and_the_instructions_the_user_message(
    dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    """qwen-long's documentation: document content in system messages (user messages hold ~9K tokens)."""
    paper = next(p for p in ranked if kept_by_config(p, make_config()))
    run(ranked, make_config(max_papers=1), ds_settings, sqlite)
    call = dashscope.calls[0]
    assert paper.abstract[:200] in call.content("system")
    assert paper.abstract[:200] not in call.content("user")
    assert paper.title not in call.content("user")
    assert [m["role"] for m in call.messages][-1] == "user"
    assert "## Main contributions" in call.content("user")  # the four sections are asked for there


def test_an_oversized_reply_is_cut_and_recorded(
    dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    paragraph = "A finding that goes on and on. " * 100 + "\n\n"
    dashscope.reply_markdown = reply = "## Main contributions and what is new\n\n" + paragraph * 3_400  # 10.6 MB
    papers, report, _ = run(ranked, make_config(max_papers=1), ds_settings, sqlite)
    summary = next(p.summary for p in papers if p.summary is not None)
    assert report.made == 1
    assert report.cut == 1
    assert len(summary.markdown) <= 33_000
    assert "cut" in summary.markdown.splitlines()[-1]
    assert f"{len(reply):,} characters" in summary.reason  # recorded with the summary
    stored = sqlite.load_summaries([summary_key(p, make_config()) for p in papers if p.summary])
    assert all(len(s.markdown) <= 33_000 for s in stored.values())
    with TestClient(create_app(ds_settings, sqlite)) as client:
        sqlite.save_papers(papers)
        assert len(client.get("/rss").content) < 2_000_000


def test_daily_budget_stops_spending(
    dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    config = make_config(concurrency=1, daily_budget={"calls": 2, "tokens": 10_000_000})
    _, report, queue = run(ranked, config, ds_settings, sqlite)
    assert report.made == 2
    assert "daily summary budget" in report.message
    assert len(queue) == 3
    _, report, _ = run(ranked, config, ds_settings, sqlite, queue=queue)
    assert report.made == 0  # the same day: still spent
    assert len(dashscope.calls) == 2


@pytest.mark.slow
def test_no_key_means_no_calls_and_a_clear_status(
    arxiv_server: FakeArxiv, dashscope: FakeDashScope, settings: Settings, sqlite: SqliteStore
) -> None:
    config = make_config()
    assert open_summarizer(config.summary, settings) is None
    report = refresh(config, settings, sqlite, now=NOW, summarizer=None)
    assert report.summaries is not None
    assert "no DASHSCOPE_API_KEY is set" in report.summaries.message
    assert dashscope.calls == []
    with TestClient(create_app(settings, sqlite)) as client:
        health = client.get("/health").json()
        page = client.get("/").text
    assert health["summaries"]["enabled"] is False
    assert "no DASHSCOPE_API_KEY is set" in health["summaries"]["status"]
    assert "no DASHSCOPE_API_KEY is set" in page


def pdf_bytes(text: str) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def test_fulltext_goes_through_a_generated_pdf_and_falls_back_to_the_abstract(
    arxiv_server: FakeArxiv, dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    config = make_config(max_papers=2, source="fulltext", concurrency=2)
    first, second = [p for p in ranked if kept_by_config(p, config)][:2]
    marker = "FULLTEXT-MARKER section 4.2 reports a 17.3 point gain on the benchmark. " * 10
    arxiv_server.files[f"/pdf/{first.versioned_id}"] = Reply(
        200, pdf_bytes(marker), {"Content-Type": "application/pdf"}
    )
    arxiv_server.files[f"/pdf/{second.versioned_id}"] = Reply(
        200, b"<html>captcha</html>", {"Content-Type": "text/html"}
    )
    pdf_base = arxiv_server.server.url + "/pdf"
    settings = dataclasses.replace(ds_settings, arxiv_pdf_base=pdf_base, arxiv_min_interval_s=0.3)
    papers, report, _ = run(ranked, config, settings, sqlite)
    assert report.made == 2
    prompts = {c.prompt.split("arXiv: ")[1].split()[0]: c.content("system") for c in dashscope.calls}
    assert "FULLTEXT-MARKER section 4.2" in prompts[first.versioned_id]  # the paper, in a system message
    assert "Abstract: " in prompts[second.versioned_id]
    sources = {p.id: p.summary.source for p in papers if p.summary is not None}
    assert sources == {first.id: "fulltext", second.id: "abstract"}
    pdf_requests = [r for r in arxiv_server.requests if r.path.startswith("/pdf/")]
    assert len(pdf_requests) == 2
    # The 3-second rule (0.3 s here) holds across the summary threads; arrival times jitter a little.
    assert abs(pdf_requests[1].at - pdf_requests[0].at) >= 0.25


def test_the_openai_compatible_provider(
    dashscope: FakeDashScope, settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    def openai_config(model: str, max_papers: int) -> Config:
        return make_config(
            provider="openai",
            base_url=dashscope.compatible_base,
            api_key_env="DEEPSEEK_API_KEY",
            model=model,
            max_papers=max_papers,
        )

    config = openai_config("deepseek-chat", 2)
    keyed = dataclasses.replace(settings, api_keys={"DEEPSEEK_API_KEY": "sk-test"})
    papers, report, _ = run(ranked, config, keyed, sqlite)
    assert report.made == 2
    assert {c.path for c in dashscope.calls} == {"/compatible-mode/v1/chat/completions"}
    assert all(p.summary.provider == "openai" for p in papers if p.summary is not None)
    dashscope.errors.append("DataInspectionFailed")
    _, report, _ = run(ranked, openai_config("other-model", 1), keyed, sqlite)
    assert report.rejected == 1
    # Malformed 200s (a gateway's page, odd shapes) are transient failures, retried, never a crash.
    malformed = [b"<html>gateway</html>", b'{"choices": ["x"]}', b'{"choices": [{"message": null}]}']
    dashscope.raw.extend(Reply(200, body, {"Content-Type": "application/json"}) for body in malformed)
    _, report, _ = run(ranked, openai_config("third-model", 1), keyed, sqlite)
    assert (report.made, report.failed) == (0, 1)


def test_model_html_is_sanitised_in_feeds_and_pages(
    arxiv_server: FakeArxiv, dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore
) -> None:
    dashscope.reply_markdown = (
        "## Main contributions\n<script>alert(1)</script> <img src=x onerror=alert(2)>\n"
        "[click](javascript:alert(3)) and [paper](https://arxiv.org/abs/2411.00001)"
    )
    config = make_config(max_papers=1)
    refresh(config, ds_settings, sqlite, now=NOW, summarizer=open_summarizer(config.summary, ds_settings))
    with TestClient(create_app(ds_settings, sqlite)) as client:
        for body in (client.get("/").text, client.get("/rss").text, client.get("/atom").text):
            assert "<script>alert(1)" not in body
            assert "<img src=x" not in body
            assert 'href="javascript:' not in body
        page = client.get("/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<a href="https://arxiv.org/abs/2411.00001">paper</a>' in page


def test_no_sdk_on_the_serving_path(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "import sys, api.index; print(sorted(m for m in ('dashscope', 'feedparser', 'pypdf') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        env={"DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_topics_choose_whether_their_papers_are_summarised(
    dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    topics = [
        {"name": "stats", "query": "cat:stat.ML", "summary": True},
        {"name": "quiet", "query": 'ti:"kv cache"', "summary": False},
    ]
    config = parse_config(
        {
            **TEST_CONFIG,
            "keywords": ["zzzz-nothing-matches"],
            "topics": topics,
            "summary": {"max_papers": 2, "concurrency": 2, "source": "abstract"},
        }
    )
    from core.selection.topics import topic_papers

    ranked = rank_for_config(ranked, config)  # as the refresh does: matched against this config
    assert not [p for p in ranked if kept_by_config(p, config)]
    stats = topic_papers(ranked, config, config.topics[0])[:2]
    quiet = topic_papers(ranked, config, config.topics[1])
    assert stats
    assert quiet
    papers, report, _ = run(ranked, config, ds_settings, sqlite)
    assert report.made == 2
    summarised = {p.id for p in papers if p.summary is not None}
    assert summarised == {p.id for p in stats}
    assert not summarised & {p.id for p in quiet}


def test_queued_papers_go_ahead_of_the_ranking(
    dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    """A paper left queued by the last run is summarised first, even if it now ranks last."""
    config = make_config(max_papers=2, concurrency=1)
    top = [p for p in ranked if kept_by_config(p, config)]
    queued = top[-1]
    run(ranked, config, ds_settings, sqlite, queue=[queued.id, queued.id])
    asked = [c.prompt.split("arXiv: ")[1].split()[0] for c in dashscope.calls]
    assert asked == [queued.versioned_id, top[0].versioned_id]  # once, first; then the best one


def test_control_characters_in_a_reply_never_reach_a_feed(
    dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore, ranked: list[Paper]
) -> None:
    """A model's reply is an inflow: raw control characters, and character references that
    Markdown decodes into them (&#12;), are cleaned where the summary is made."""
    dashscope.reply_markdown = "## Main\x0c contributions\nA form\x01 feed &#12; and &#27; here.\n\n- one\x1b"
    papers, report, _ = run(ranked, make_config(max_papers=1), ds_settings, sqlite)
    assert report.made == 1
    summarised = [p for p in papers if p.summary is not None]
    summary = summarised[0].summary
    assert summary is not None
    assert "\x0c" not in summary.markdown
    assert "\x0c" not in summary.html
    assert illegal_in_feeds(summarised) == []


def test_the_summarize_command_picks_the_papers_an_edited_config_keeps(
    arxiv_server: FakeArxiv, dashscope: FakeDashScope, ds_settings: Settings, sqlite: SqliteStore
) -> None:
    """config.json edited between the refresh and the summaries' run (new submissions no
    longer followed, only replacements): the run summarises the top papers the new config.json keeps, though the
    store's order was made under the old one."""
    config = make_config()
    refresh(config, ds_settings, sqlite, now=NOW, sleep=no_wait)
    edited = make_config().model_copy(update={"announce_types": ["replace"]})
    stored = sqlite.load_index()
    kept = [e.id for e in stored if kept_by_config(e, edited)][:5]
    assert len(kept) == 5
    assert any(e.announce_type == "new" and kept_by_config(e, config) for e in stored[:20])  # first until now
    report = summarize_stored(edited, ds_settings, sqlite, open_summarizer(edited.summary, ds_settings), now=NOW)
    assert report.made == 5
    assert sorted(p.id for p in sqlite.load_papers() if p.summary is not None) == sorted(kept)

"""Benchmarks for arxiv-rss-bot (not part of the test run): ``make bench`` or ``python bench/run.py``.

1. ingest: parse + match + store the real 1,504-item arXiv feed, next to feedparser alone.
2. serve: a 100-item feed from the store through uvicorn, next to a static file of the same
   size served by the same server, in the same run; once with SQLite, once with Upstash
   (the store's REST client, the tests' Upstash REST shim, a real redis-server).
3. upstash: Redis commands, round trips and bytes per feed request and per refresh, counted
   at the shim.
4. summaries: 15 papers at a fixed simulated model latency, concurrency 1 vs config.json's,
   through the real dashscope SDK and a loopback DashScope; then the calls of a second run.
5. fulltext: config.json's default summary settings (full text, concurrency 4) for 15 papers:
   PDFs from a loopback arXiv under the real 3-second rule, a model with a realistic latency,
   against the cron's time budget.

``python bench/run.py fulltext`` (or any section names) runs only those sections.

Results go to stdout as a Markdown table; copy them into bench/README.md.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import httpx
from fastapi.testclient import TestClient

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from bench.serve_app import launch  # noqa: E402
from core import taxonomy  # noqa: E402
from core.arxiv.rss import parse_feed  # noqa: E402
from core.config import Topic, load_config  # noqa: E402
from core.refresh import refresh  # noqa: E402
from core.refresh.catalog import merge_papers  # noqa: E402
from core.refresh.rank import rank_for_config  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.store import open_store  # noqa: E402
from core.store.sqlite import SqliteStore  # noqa: E402
from core.store.upstash import UpstashStore  # noqa: E402
from core.web.app import create_app  # noqa: E402
from tests.arxiv_fake import FakeArxiv  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from tests.upstash_shim import UpstashShim  # noqa: E402

FEED = ROOT / "tests" / "data" / "rss-all-archives-combined-2024-11-28.xml"
NOW = datetime(2024, 11, 28, 12, tzinfo=UTC)
CONFIG = load_config(ROOT / "config.json").model_copy(
    update={"categories": sorted(taxonomy.ARCHIVES)}  # every archive: all 1,504 papers are followed
)


def best_of(runs: int, func: Callable[[], object]) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_memory(func: Callable[[], object]) -> float:
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def bench_ingest() -> list[tuple[str, str, str]]:
    body = FEED.read_bytes()
    tmp = Path(tempfile.mkdtemp())

    def baseline() -> object:
        return feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)

    def pipeline() -> int:
        store = SqliteStore(tmp / f"{time.perf_counter_ns()}.sqlite3")
        papers = parse_feed(body).papers
        merged, _, _ = merge_papers(store.load_papers(), papers)
        ranked = list(rank_for_config(merged, CONFIG))
        store.save_papers(ranked)
        return len(ranked)

    base_s, _ = best_of(5, baseline)
    full_s, count = best_of(5, pipeline)
    assert count == 1504, count
    return [
        (
            "feedparser.parse alone (baseline)",
            f"{1504 / base_s:,.0f} items/s ({base_s * 1000:.0f} ms)",
            f"{peak_memory(baseline):.1f} MiB",
        ),
        (
            "parse + match + rank + save (SQLite)",
            f"{1504 / full_s:,.0f} papers/s ({full_s * 1000:.0f} ms)",
            f"{peak_memory(pipeline):.1f} MiB",
        ),
        ("ratio pipeline / baseline", f"{full_s / base_s:.2f}x the time", ""),
    ]


def measure(client: httpx.Client, url: str, requests: int, unique: bool = False) -> tuple[float, list[float]]:
    """Sequential GETs of ``url``; with ``unique``, each with a new ignored parameter (never cached)."""
    urls = [f"{url}&n={i}" if unique else url for i in range(requests + 20)]
    for warm in urls[:20]:
        client.get(warm).raise_for_status()
    latencies = []
    start = time.perf_counter()
    for each in urls[20:]:
        t0 = time.perf_counter()
        client.get(each).raise_for_status()
        latencies.append(time.perf_counter() - t0)
    return requests / (time.perf_counter() - start), latencies


def percentiles(latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return f"p50 {q[49] * 1000:.2f} ms, p90 {q[89] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms"


def bench_serve(env: dict[str, str], label: str, requests: int = 1000) -> list[tuple[str, str, str]]:
    """Serve a 100-item feed from a filled store; the static baseline is that feed's bytes."""
    data = Path(env["DATA_DIR"])
    store = open_store(Settings.from_env(env))
    merged, _, _ = merge_papers([], parse_feed(FEED.read_bytes()).papers)
    store.save_papers(rank_for_config(merged, CONFIG))
    static = data / "static"
    static.mkdir(exist_ok=True)
    feed = "/rss?limit=100"
    with launch(env, static) as base, httpx.Client(timeout=10) as client:
        body = client.get(base + feed).content
        (static / "feed.xml").write_bytes(body)
        assert body.count(b"<item>") == 100
        rendered_rps, rendered_lat = measure(client, base + feed, requests, unique=True)
        cached_rps, cached_lat = measure(client, base + feed, requests)
        static_rps, static_lat = measure(client, base + "/bench-static/feed.xml", requests)
    return [
        (f"static file, {len(body) // 1024} KiB (baseline)", f"{static_rps:,.0f} req/s", percentiles(static_lat)),
        (f"100-item RSS feed from {label}, rendered", f"{rendered_rps:,.0f} req/s", percentiles(rendered_lat)),
        ("ratio rendered / static", f"{static_rps / rendered_rps:.1f}x the time", ""),
        (f"the same feed from {label}, repeated (response cache)", f"{cached_rps:,.0f} req/s", percentiles(cached_lat)),
        ("ratio repeated / static", f"{static_rps / cached_rps:.2f}x the time", ""),
    ]


def table(title: str, rows: list[tuple[str, str, str]]) -> str:
    lines = [f"### {title}", "", "| what | throughput | other |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


def bench_upstash_commands(shim: UpstashShim) -> list[tuple[str, str, str]]:
    """Commands, round trips and bytes, counted at the shim, for a realistic 4-category deployment."""
    topic = Topic(name="agents", query='abs:agent OR ti:"tool use"')
    config = CONFIG.model_copy(
        update={"categories": ["cs.AI", "cs.LG", "cs.CL", "cs.CV"], "max_papers": 50, "topics": [topic]}
    )
    store = UpstashStore(shim.url, shim.token)
    rows = []
    with FakeArxiv().server as arxiv_server, tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            {
                "DATA_DIR": tmp,
                "ARXIV_RSS_BASE": arxiv_server.url + "/rss",
                "ARXIV_API_BASE": arxiv_server.url + "/api/query",
            }
        )
        for run in ("first refresh", "next refresh (304)"):
            shim.reset_counts()
            report = refresh(config, settings, store)
            commands = ", ".join(f"{name} {n}" for name, n in sorted(shim.commands.items()))
            rows.append(
                (
                    f"{run}: {report.stored} papers",
                    f"{shim.round_trips} round trips, {_kib(shim.bytes_in + shim.bytes_out)}",
                    f"{shim.command_count} commands ({commands})",
                )
            )
        size = sum(len(p.model_dump_json()) for p in store.load_papers())
        settings.config_path.parent.mkdir(parents=True, exist_ok=True)
        config_file = Path(tmp) / "config.json"
        config_file.write_text(config.model_dump_json())
        settings = dataclasses.replace(settings, config_path=config_file)
        client = TestClient(create_app(settings, store))
        for label, path in (
            ("default feed /rss/cs.CL, rendered", "/rss/cs.CL"),
            ("the same again, from the response cache", "/rss/cs.CL"),
            ("topic feed /rss/topic/agents, rendered", "/rss/topic/agents"),
            ("filtered feed ?keywords=..., rendered", "/rss/cs.CL?keywords=agent,kv%20cache"),
            ("another filter, same store version", "/rss?q=abs:diffusion"),
        ):
            shim.reset_counts()
            client.get(path).raise_for_status()
            rows.append(
                (
                    label,
                    f"{shim.round_trips} round trips, {_kib(shim.bytes_out)} read",
                    f"{shim.command_count} commands",
                )
            )
    rows.append(
        ("stored papers, JSON", f"{size / 1024:.0f} KiB", f"{size / max(store.load_status()[1], 1):.0f} bytes a paper")
    )
    return rows


def _kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB"


def bench_summaries(latency_s: float = 0.5) -> list[tuple[str, str, str]]:
    from core.summarize import open_summarizer
    from core.summarize.pipeline import attach_cached, make_summaries
    from tests.dashscope_fake import FakeDashScope

    base = load_config(ROOT / "config.json")
    merged, _, _ = merge_papers([], parse_feed(FEED.read_bytes()).papers)
    rows = []
    fake = FakeDashScope()
    fake.latency_s = latency_s
    with fake.server, tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(
            {"DATA_DIR": tmp, "DASHSCOPE_API_KEY": fake.api_key, "DASHSCOPE_BASE_URL": fake.native_base}
        )
        for concurrency in (1, base.summary.concurrency):
            config = base.model_copy(update={"summary": base.summary.model_copy(update={"concurrency": concurrency})})
            papers = rank_for_config(merged, config)
            store = SqliteStore(Path(tmp) / f"c{concurrency}.sqlite3")
            summarizer = open_summarizer(config.summary, settings)
            assert summarizer is not None
            fake.calls.clear()
            start = time.perf_counter()
            papers, report, _ = make_summaries(
                papers, config, settings, store, summarizer, [], NOW, time.monotonic() + 280
            )
            seconds = time.perf_counter() - start
            rows.append(
                (
                    f"15 summaries, concurrency {concurrency}",
                    f"{seconds:.1f} s",
                    f"{report.made} made, {len(fake.calls)} calls",
                )
            )
            fake.calls.clear()
            _, again, _ = make_summaries(
                attach_cached(papers, config, store),
                config,
                settings,
                store,
                summarizer,
                [],
                NOW,
                time.monotonic() + 280,
            )
            rows.append(
                (f"second run, concurrency {concurrency}", f"{len(fake.calls)} calls", f"{again.cached} cached")
            )
    speedup = float(rows[0][1].split()[0]) / float(rows[2][1].split()[0])
    rows.append(("speed-up", f"{speedup:.1f}x", f"simulated model latency {latency_s} s a call"))
    return rows


def bench_fulltext(latencies_s: tuple[float, ...] = (15.0, 30.0), pages: int = 20) -> list[tuple[str, str, str]]:
    """The default summaries (full text) for 15 papers, as the daily cron makes them."""
    from fpdf import FPDF

    from core.summarize import open_summarizer
    from core.summarize.pipeline import make_summaries
    from tests.dashscope_fake import FakeDashScope
    from tests.loopback import Reply

    config = load_config(ROOT / "config.json")
    assert config.summary.source == "fulltext"
    papers = rank_for_config(merge_papers([], parse_feed(FEED.read_bytes()).papers)[0], config)
    # A paper-like PDF: pages of varied real text (real abstracts), so pypdf has real work.
    pdf = FPDF()
    for page in range(pages):
        pdf.add_page()
        pdf.set_font("Helvetica", size=10)
        text = " ".join(p.abstract for p in papers[page * 3 : page * 3 + 3])
        pdf.multi_cell(0, 5, text.encode("latin-1", "replace").decode("latin-1"))
    body = bytes(pdf.output())
    rows = []
    for latency_s in latencies_s:
        arxiv, model = FakeArxiv(), FakeDashScope()
        model.latency_s = latency_s
        for paper in papers[:60]:
            arxiv.files[f"/pdf/{paper.versioned_id}"] = Reply(200, body, {"Content-Type": "application/pdf"})
        with arxiv.server, model.server, tempfile.TemporaryDirectory() as tmp:
            settings = Settings.from_env(
                {
                    "DATA_DIR": tmp,
                    "ARXIV_PDF_BASE": arxiv.server.url + "/pdf",
                    "ARXIV_MIN_INTERVAL_S": "3",
                    "DASHSCOPE_API_KEY": model.api_key,
                    "DASHSCOPE_BASE_URL": model.native_base,
                }
            )
            summarizer = open_summarizer(config.summary, settings)
            assert summarizer is not None
            store = SqliteStore(Path(tmp) / "fulltext.sqlite3")
            budget = config.summary.time_budget_s
            start = time.perf_counter()
            done, report, queue = make_summaries(
                papers, config, settings, store, summarizer, [], NOW, time.monotonic() + budget
            )
            seconds = time.perf_counter() - start
        downloads = sorted(r.at for r in arxiv.requests if r.path.startswith("/pdf/"))
        gap = min(b - a for a, b in itertools.pairwise(downloads))
        fulltext = sum(1 for p in done if p.summary is not None and p.summary.source == "fulltext")
        rows.append(
            (
                f"{report.made} summaries, model latency {latency_s:.0f} s, concurrency {config.summary.concurrency}",
                f"{seconds:.1f} s (budget {budget:.0f} s)",
                f"{fulltext} from the PDF, {len(queue)} queued; {len(downloads)} downloads, min gap {gap:.2f} s",
            )
        )
    rows.append(
        (f"the PDF: {pages} pages of real abstracts", f"{len(body) / 1024:.0f} KiB", "the same for every paper")
    )
    return rows


def bench_upstash(tmp: str, env: dict[str, str]) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    redis = RedisServer(Path(tmp) / "redis").start()
    shim = UpstashShim(redis.port)
    try:
        with shim.server:
            upstash_env = {**env, "UPSTASH_REDIS_REST_URL": shim.url, "UPSTASH_REDIS_REST_TOKEN": shim.token}
            return bench_serve(upstash_env, "Upstash (shim + redis-server)"), bench_upstash_commands(shim)
    finally:
        redis.stop()


def main(sections: list[str]) -> None:
    wanted = set(sections) or {"ingest", "serve", "upstash", "summaries", "fulltext"}
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}\n")
    if "ingest" in wanted:
        print(table("Ingest: the real 1,504-item feed", bench_ingest()))
    if wanted & {"serve", "upstash"}:
        with tempfile.TemporaryDirectory() as tmp:
            env = {"DATA_DIR": tmp, "CONFIG_PATH": str(ROOT / "config.json")}
            sqlite_rows = bench_serve(env, "SQLite")
            upstash_rows, command_rows = bench_upstash(tmp, env)
        print(table("Serve: one client, sequential requests over keep-alive", [*sqlite_rows, *upstash_rows[1:]]))
        print(table("Upstash: commands, round trips and bytes (counted at the shim)", command_rows))
    if "summaries" in wanted:
        print(table("Summaries: the real dashscope SDK against a loopback DashScope", bench_summaries()))
    if "fulltext" in wanted:
        print(table("Full-text summaries as the cron makes them (config.json's defaults)", bench_fulltext()))


if __name__ == "__main__":
    main(sys.argv[1:])

"""Benchmarks for arxiv-rss-bot (not part of the test run): ``make bench`` or ``python bench/run.py``.

1. ingest: parse + match + store the real 1,504-item arXiv feed, next to feedparser alone.
2. serve: a 100-item feed from the store through uvicorn, next to a static file of the same
   size served by the same server, in the same run.

Results go to stdout as a Markdown table; copy them into bench/README.md.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import feedparser
import httpx

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from core.arxiv import parse_feed  # noqa: E402
from core.config import load_config  # noqa: E402
from core.refresh import merge_papers, rank_for_config  # noqa: E402
from core.store.sqlite import SqliteStore  # noqa: E402

FEED = ROOT / "tests" / "data" / "rss-all-archives-combined-2024-11-28.xml"
CONFIG = load_config(ROOT / "config.json").model_copy(
    update={"categories": ["cs", "math", "physics", "astro-ph", "cond-mat", "stat", "quant-ph", "eess"]}
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(client: httpx.Client, url: str, requests: int) -> tuple[float, list[float]]:
    for _ in range(20):  # warm-up
        client.get(url).raise_for_status()
    latencies = []
    start = time.perf_counter()
    for _ in range(requests):
        t0 = time.perf_counter()
        client.get(url).raise_for_status()
        latencies.append(time.perf_counter() - t0)
    return requests / (time.perf_counter() - start), latencies


def percentiles(latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return f"p50 {q[49] * 1000:.2f} ms, p90 {q[89] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms"


def bench_serve(env: dict[str, str], label: str, requests: int = 1000) -> list[tuple[str, str, str]]:
    """Serve a 100-item feed from a refreshed store; the static baseline is that feed's bytes."""
    data = Path(env["DATA_DIR"])
    store = SqliteStore(data / "arxiv-rss-bot.sqlite3")
    if store.count_papers() == 0:
        merged, _, _ = merge_papers([], parse_feed(FEED.read_bytes()).papers)
        store.save_papers(list(rank_for_config(merged, CONFIG)))
    static = data / "static"
    static.mkdir(exist_ok=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "serve_app.py"), str(port), str(static)],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    feed = "/rss?min_score=0&limit=100"
    try:
        with httpx.Client(timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    body = client.get(base + feed).content
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            (static / "feed.xml").write_bytes(body)
            assert body.count(b"<item>") == 100
            feed_rps, feed_lat = measure(client, base + feed, requests)
            static_rps, static_lat = measure(client, base + "/static/feed.xml", requests)
    finally:
        server.terminate()
        server.wait(10)
    return [
        (f"static file, {len(body) // 1024} KiB (baseline)", f"{static_rps:,.0f} req/s", percentiles(static_lat)),
        (f"100-item RSS feed from {label}", f"{feed_rps:,.0f} req/s", percentiles(feed_lat)),
        ("ratio feed / static", f"{static_rps / feed_rps:.1f}x slower", ""),
    ]


def table(title: str, rows: list[tuple[str, str, str]]) -> str:
    lines = [f"### {title}", "", "| what | throughput | other |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}\n")
    print(table("Ingest: the real 1,504-item feed", bench_ingest()))
    with tempfile.TemporaryDirectory() as tmp:
        env = {"DATA_DIR": tmp, "CONFIG_PATH": str(ROOT / "config.json")}
        print(table("Serve: one client, sequential requests over keep-alive", bench_serve(env, "SQLite")))


if __name__ == "__main__":
    main()

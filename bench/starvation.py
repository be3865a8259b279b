"""Starvation: does a burst of costly filtered requests slow a cached feed for everyone else?

``python bench/starvation.py [SECONDS]``. One uvicorn process serves the real 1,504-paper
feed from SQLite (as one Vercel function instance). One client requests the cached
``/rss?limit=100`` over and over and records its latency: first alone, then while 8 other
clients keep sending uncached filtered requests of 50 non-ASCII terms each (every URL new, so
every one is rendered; non-ASCII terms skip the matcher's quick ASCII pre-check), the
costliest request a reader can send. Both runs in the same process, side by side.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import CONFIG, FEED  # noqa: E402
from bench.serve_app import launch  # noqa: E402
from core.arxiv.rss import parse_feed  # noqa: E402
from core.refresh.catalog import merge_papers  # noqa: E402
from core.refresh.rank import rank_for_config  # noqa: E402
from core.store.sqlite import SqliteStore  # noqa: E402

COSTLY_CLIENTS = 8
COSTLY = "/rss?keywords=" + ",".join(f"modèle{n}" for n in range(50)) + "&min_score=0&n="


def cached_latencies(base: str, seconds: float) -> list[float]:
    latencies = []
    with httpx.Client(base_url=base, timeout=60) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            client.get("/rss?limit=100").raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def costly_load(base: str, stop: threading.Event, statuses: Counter[int], lock: threading.Lock) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        n = 0
        while not stop.is_set():
            n += 1
            status = client.get(f"{COSTLY}{threading.get_ident()}-{n}").status_code
            with lock:
                statuses[status] += 1


def row(label: str, latencies: list[float]) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    return f"| {label} | {len(latencies)} | {cuts[49]:.1f} ms | {cuts[89]:.1f} ms | {cuts[98]:.1f} ms |"


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 15
    with tempfile.TemporaryDirectory() as tmp:
        merged, _, _ = merge_papers([], parse_feed(FEED.read_bytes()).papers)
        SqliteStore(Path(tmp) / "arxiv-rss-bot.sqlite3").save_papers(rank_for_config(merged, CONFIG))
        static = Path(tmp) / "static"
        static.mkdir()
        with launch({"DATA_DIR": tmp, "CONFIG_PATH": str(ROOT / "config.json")}, static) as base:
            httpx.get(base + "/rss?limit=100").raise_for_status()
            started = time.perf_counter()
            httpx.get(base + COSTLY + "probe", timeout=60).raise_for_status()
            one_costly = (time.perf_counter() - started) * 1000
            alone = cached_latencies(base, seconds)
            stop, statuses, lock = threading.Event(), Counter[int](), threading.Lock()
            load = [
                threading.Thread(target=costly_load, args=(base, stop, statuses, lock)) for _ in range(COSTLY_CLIENTS)
            ]
            for thread in load:
                thread.start()
            busy = cached_latencies(base, seconds)
            stop.set()
            for thread in load:
                thread.join()
    print(f"one costly request alone: {one_costly:.0f} ms; {COSTLY_CLIENTS} clients sent {sum(statuses.values())}")
    print(f"costly answers by status: {dict(sorted(statuses.items()))}\n")
    print("| cached /rss?limit=100 | requests | p50 | p90 | p99 |")
    print("|---|---|---|---|---|")
    print(row("alone", alone))
    print(row(f"with {COSTLY_CLIENTS} costly requests in flight", busy))
    print(f"\np50 ratio busy / alone: {statistics.median(busy) / statistics.median(alone):.1f}x")


if __name__ == "__main__":
    main()

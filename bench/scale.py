"""Scale: what a next-day refresh and the feeds cost as the store grows.

``python bench/scale.py [SIZES...]`` (default 1500 10000 30000). For each size the store is
filled with synthesised announcement days: the real 1,504-paper feed, renumbered and dated one
day apart, already matched. Then, on SQLite and on Upstash (the tests' shim over a real
redis-server, enforcing the 10 MB limit):

- a next-day refresh: the recorded feed from a loopback arXiv (1,504 new papers), every
  archive followed, a window long enough to keep everything: seconds (median of 3, the store
  filled again before each), peak Python memory (tracemalloc), and on Upstash the bytes sent
  and received;
- a default feed and a filtered feed, each rendered (a new URL every time): median of 5.

Baseline in the same run: the same refresh on an empty store.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import CONFIG, FEED  # noqa: E402
from core.arxiv.rss import parse_feed  # noqa: E402
from core.models import BackfillState, Paper, RefreshState  # noqa: E402
from core.refresh import refresh  # noqa: E402
from core.refresh.catalog import merge_papers  # noqa: E402
from core.refresh.rank import config_hash, rank_for_config  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.store import Store  # noqa: E402
from core.store.sqlite import SqliteStore  # noqa: E402
from core.store.upstash import UpstashStore  # noqa: E402
from core.web.app import create_app  # noqa: E402
from tests.arxiv_fake import FakeArxiv  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from tests.upstash_shim import UpstashShim  # noqa: E402

WINDOW = CONFIG.model_copy(update={"days_back": 90})


def synthesise(size: int, real: list[Paper]) -> list[Paper]:
    """``size`` papers: days of the real feed, renumbered (ids 9xxx.yyyyy) and dated back a day each."""
    papers = []
    day = 0
    while len(papers) < size:
        day += 1
        for n, paper in enumerate(real[: size - len(papers)]):
            papers.append(
                paper.model_copy(
                    update={"id": f"{9000 + day}.{n:05d}", "announced": paper.announced - timedelta(days=day)}
                )
            )
    return papers


def timed_refresh(store: Store, settings: Settings) -> tuple[float, float]:
    tracemalloc.start()
    started = time.perf_counter()
    refresh(WINDOW, settings, store)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return seconds, peak


def feed_ms(client: TestClient, path: str) -> float:
    times = []
    for n in range(5):
        started = time.perf_counter()
        client.get(f"{path}&n={time.monotonic_ns()}-{n}").raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


REPEAT = 3  # refreshes per row, each on the store as it was filled: the median is reported


def measure(label: str, store: Store, settings: Settings, stored: list[Paper], shim: UpstashShim | None) -> str:
    runs = []
    for _ in range(REPEAT):
        # As earlier refreshes left it: matched against this same config.json, the window filled
        # long ago (so no backfill), no ETag (so the next day's feed is fetched).
        store.save_papers(stored)
        filled = BackfillState(filled=sorted(WINDOW.categories))
        store.save_state(RefreshState(config_hash=config_hash(WINDOW), backfill=filled))
        if shim is not None:
            shim.reset_counts()
        runs.append(timed_refresh(store, settings))
    seconds, peak = statistics.median(s for s, _ in runs), max(p for _, p in runs)
    traffic = f"{(shim.bytes_in + shim.bytes_out) / 2**20:.1f} MiB" if shim is not None else "—"
    client = TestClient(create_app(settings, store))
    default = feed_ms(client, "/rss?limit=50")
    filtered = feed_ms(client, "/rss?q=abs:agent%20OR%20ti:diffusion")
    return f"| {label} | {seconds:.1f} s | {peak:.0f} MiB | {traffic} | {default:.0f} ms | {filtered:.0f} ms |"


def main(sizes: list[int]) -> None:
    real = rank_for_config(merge_papers([], parse_feed(FEED.read_bytes()).papers)[0], WINDOW)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, FakeArxiv().server as arxiv:
        config_path = Path(tmp) / "config.json"
        config_path.write_text(WINDOW.model_dump_json())
        env = {
            "DATA_DIR": tmp,
            "CONFIG_PATH": str(config_path),
            "ARXIV_RSS_BASE": arxiv.url + "/rss",
            "ARXIV_API_BASE": arxiv.url + "/api/query",
            "ARXIV_MIN_INTERVAL_S": "0",
        }
        settings = Settings.from_env(env)
        redis = RedisServer(Path(tmp) / "redis").start()
        shim = UpstashShim(redis.port)
        try:
            with shim.server:
                # A first refresh warms the process (imports, the LaTeX cache), so the empty-store
                # baseline is not charged for them.
                timed_refresh(SqliteStore(Path(tmp) / "warm-up.sqlite3"), settings)
                for size in [0, *sizes]:
                    stored = synthesise(size, real) if size else []
                    label = f"{size:,} stored" if size else "empty store (baseline)"
                    sqlite = SqliteStore(Path(tmp) / f"scale-{size}.sqlite3")
                    rows.append(measure(f"SQLite, {label}", sqlite, settings, stored, None))
                    redis.flush()
                    upstash = UpstashStore(shim.url, shim.token, timeout_s=60)
                    rows.append(measure(f"Upstash, {label}", upstash, settings, stored, shim))
                    print(rows[-2], rows[-1], sep="\n", flush=True)
        finally:
            redis.stop()
    print("\n| store | next-day refresh | peak memory | Upstash traffic | default feed | filtered feed |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1500, 10_000, 30_000])

"""Scale: what a next-day refresh and the feeds cost as the store grows (issue 28).

``python bench/scale.py [--refresh-only] [SIZES...]`` (default 10000 30000 60000). For each size
the store is filled with synthesised announcement days: the real 1,504-paper feed, renumbered
and dated one day apart, already matched. Then, on SQLite and on Upstash (the tests' shim over
a real redis-server, enforcing the 10 MB limit):

- a next-day refresh: the recorded feed from a loopback arXiv (1,504 new papers), every
  archive followed, a window long enough to keep everything: seconds (median of 3, the store
  filled again before each), and on Upstash the bytes sent and received; then one more, under
  tracemalloc, for its peak Python memory alone (tracemalloc slows allocation-heavy code,
  arXiv's XML parsing most of all, so timed under it an empty store's refresh grew fivefold
  and the ratio shrank);
- on a fresh app (a new instance): a default feed, then the first filtered feed (it reads the
  word index's postings of its words and its best candidates), then a default, a filtered and
  a topic feed, each rendered (a new URL every time): median of 5 (``--refresh-only`` skips
  them).

The synthesised papers are made again for each fill and dropped before the refresh: held, they
would be 60,000 papers (about 900,000 objects) in this process that a refresh's full cycle
collection (``records.unscanned``) scans, which no refresh outside a benchmark has to.

Baseline in the same run: the same refresh on an empty store. Every time is given as wall
time and CPU time of this process (``time.process_time``: the machine is shared, so CPU time
is the steadier of the two; it includes the shim's work, which runs in this process), and
every ratio next to its target. The refresh's own thread's CPU time (``time.thread_time``)
is given apart: on Upstash that is what the function pays, the shim standing for Upstash's
servers (whose work the traffic column stands for).
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
from core.config import Topic  # noqa: E402
from core.models import BackfillState, Paper, RefreshState  # noqa: E402
from core.refresh import refresh  # noqa: E402
from core.refresh.catalog import merge_papers  # noqa: E402
from core.refresh.rank import config_hash, rank_for_config, store_order  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.store import Store  # noqa: E402
from core.store.sqlite import SqliteStore  # noqa: E402
from core.store.upstash import UpstashStore  # noqa: E402
from core.web.app import create_app  # noqa: E402
from tests.arxiv_fake import FakeArxiv  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from tests.upstash_shim import UpstashShim  # noqa: E402

WINDOW = CONFIG.model_copy(update={"days_back": 90})
# The app's config adds a topic (the refresh's has none, as config.json).
TOPIC = Topic(name="vision", query="ti:image OR abs:segmentation", categories=["cs"])
SERVED = WINDOW.model_copy(update={"topics": [TOPIC]})
FILTERED = "/rss?q=abs:agent%20OR%20ti:diffusion"
TARGETS = {"refresh": 1.5, "filtered": 2.0, "topic": 2.0, "first": 10.0}


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


Times = tuple[float, float]  # wall and CPU seconds


def timed_refresh(store: Store, settings: Settings) -> tuple[Times, float]:
    """Wall and CPU seconds of a refresh, and the CPU seconds of the thread that ran it alone."""
    started, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
    refresh(WINDOW, settings, store)
    return (time.perf_counter() - started, time.process_time() - cpu), time.thread_time() - own


def peak_of_refresh(store: Store, settings: Settings) -> float:
    """The refresh's peak Python memory (MiB), under tracemalloc: apart from the timed runs."""
    tracemalloc.start()
    try:
        refresh(WINDOW, settings, store)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def timed_get(client: TestClient, path: str) -> Times:
    started, cpu = time.perf_counter(), time.process_time()
    client.get(path).raise_for_status()
    return time.perf_counter() - started, time.process_time() - cpu


def feed_times(client: TestClient, path: str) -> Times:
    """Median wall and CPU seconds of 5 renders (a new URL each time)."""
    sep = "&" if "?" in path else "?"
    runs = [timed_get(client, f"{path}{sep}n={time.monotonic_ns()}-{n}") for n in range(5)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def medians(runs: list[Times]) -> Times:
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def ms(times: Times) -> str:
    return f"{times[0] * 1000:.0f} / {times[1] * 1000:.0f} ms"


def ratio(part: Times, whole: Times, target: str) -> str:
    """Wall and CPU ratios, and the target."""
    return f"{part[0] / whole[0]:.1f}x / {part[1] / whole[1]:.1f}x (<= {TARGETS[target]:g}x)"


REPEAT = 3  # refreshes per row, each on the store as it was filled: the median is reported


def fill(store: Store, size: int, real: list[Paper]) -> None:
    """The store as earlier refreshes left it: ``size`` papers matched against this same
    config.json, in the stored order, the window filled long ago (so no backfill), no ETag (so
    the next day's feed is fetched). The papers are made here and dropped on return (see the
    module's docstring)."""
    store.save_papers(store_order(synthesise(size, real), WINDOW) if size else [])
    filled = BackfillState(filled=sorted(WINDOW.categories))
    store.save_state(RefreshState(config_hash=config_hash(WINDOW), backfill=filled))


def measure(
    label: str,
    store: Store,
    settings: tuple[Settings, Settings],
    size: int,
    real: list[Paper],
    shim: UpstashShim | None,
    empty: tuple[Times, float] | None,
    feeds: bool,
) -> tuple[tuple[Times, float], list[str]]:
    """The refresh (``settings[0]``), then the feeds of a fresh app (``settings[1]``: config.json
    with a topic)."""
    runs, own = [], []
    for _ in range(REPEAT):
        fill(store, size, real)
        if shim is not None:
            shim.reset_counts()
        times, mine = timed_refresh(store, settings[0])
        runs.append(times)
        own.append(mine)
    traffic = f"{(shim.bytes_in + shim.bytes_out) / 2**20:.1f} MiB" if shim is not None else "—"
    fill(store, size, real)
    refreshed, thread, peak = medians(runs), statistics.median(own), peak_of_refresh(store, settings[0])
    against = ratio(refreshed, empty[0], "refresh") if empty else "1.0x (baseline)"
    mine_against = f"{thread / empty[1]:.1f}x" if empty else "1.0x"
    refresh_row = f"| {label} | {ms(refreshed)} | {against} | {thread * 1000:.0f} ms, {mine_against} | {peak:.0f} MiB"
    refresh_row += f" | {traffic} |"
    if not feeds:
        return (refreshed, thread), [refresh_row]
    client = TestClient(create_app(settings[1], store))  # a fresh instance
    timed_get(client, "/rss?limit=50&n=warm")  # the version check, the store's connection
    first_default = timed_get(client, "/rss?limit=50&n=first")
    first = timed_get(client, FILTERED + "&n=first")
    default = feed_times(client, "/rss?limit=50")
    filtered = feed_times(client, FILTERED)
    topic = feed_times(client, "/rss/topic/vision")
    feed_row = (
        f"| {label} | {ms(default)} | {ms(filtered)} | {ratio(filtered, default, 'filtered')} | {ms(topic)}"
        f" | {ratio(topic, default, 'topic')} | {ms(first)} | {ratio(first, first_default, 'first')} |"
    )
    return (refreshed, thread), [refresh_row, feed_row]


def main(sizes: list[int], feeds: bool = True) -> None:
    real = rank_for_config(merge_papers([], parse_feed(FEED.read_bytes()).papers)[0], WINDOW)
    refreshes: list[str] = []
    feed_rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, FakeArxiv().server as arxiv:
        config_path = Path(tmp) / "config.json"
        config_path.write_text(WINDOW.model_dump_json())
        served_path = Path(tmp) / "served.json"
        served_path.write_text(SERVED.model_dump_json())
        env = {
            "DATA_DIR": tmp,
            "CONFIG_PATH": str(config_path),
            "ARXIV_RSS_BASE": arxiv.url + "/rss",
            "ARXIV_API_BASE": arxiv.url + "/api/query",
            "ARXIV_MIN_INTERVAL_S": "0",
        }
        settings = Settings.from_env(env)
        serving = Settings.from_env({**env, "CONFIG_PATH": str(served_path)})
        redis = RedisServer(Path(tmp) / "redis").start()
        shim = UpstashShim(redis.port)
        empty: dict[str, tuple[Times, float]] = {}
        try:
            with shim.server:
                # A first refresh warms the process (imports, the LaTeX cache), so the empty-store
                # baseline is not charged for them.
                timed_refresh(SqliteStore(Path(tmp) / "warm-up.sqlite3"), settings)
                for size in [0, *sizes]:
                    label = f"{size:,} stored" if size else "empty store (baseline)"
                    for name in ("SQLite", "Upstash"):
                        if name == "SQLite":
                            store: Store = SqliteStore(Path(tmp) / f"scale-{size}.sqlite3")
                        else:
                            redis.flush()
                            store = UpstashStore(shim.url, shim.token, timeout_s=60)
                        counted = shim if name == "Upstash" else None
                        both = (settings, serving)
                        refreshed, rows = measure(
                            f"{name}, {label}", store, both, size, real, counted, empty.get(name), feeds
                        )
                        empty.setdefault(name, refreshed)
                        refreshes.append(rows[0])
                        feed_rows += rows[1:]
                        print(*rows, sep="\n", flush=True)
        finally:
            redis.stop()
    print(
        "\n| store | next-day refresh (wall / CPU) | ratio to empty (wall / CPU) | own thread CPU, ratio"
        " | peak memory | Upstash traffic |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(refreshes))
    if not feed_rows:
        return
    print(
        "\n| store | default feed (wall / CPU) | filtered feed | filtered / default | topic feed | topic / default"
        " | first filtered on a fresh instance | first / default |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(feed_rows))


if __name__ == "__main__":
    args = sys.argv[1:]
    main([int(a) for a in args if a != "--refresh-only"] or [10_000, 30_000, 60_000], "--refresh-only" not in args)

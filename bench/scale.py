"""Scale: what a next-day refresh and the feeds cost as the store grows (issue 28).

``python bench/scale.py [--refresh-only] [SIZES...]`` (default 10000 30000 60000). For each size
the store is filled with synthesised announcement days (the real 1,504-paper feed, renumbered
and dated one day apart, already matched) and the earlier versions of the papers that day's
feed replaces (569 of them; the refresh reads them whole and merges the new versions in).
Then, on SQLite and on Upstash (the tests' shim over a real redis-server, enforcing the 10 MB
limit):

- a next-day refresh as the cron job runs one: in a fresh process (a cron's function starts
  cold), warmed by a refresh of another day's feed on a scratch store (so its imports, the
  same at every size, are made, and its LaTeX and matching caches hold none of this day's
  texts), on the store another process filled (so the refresh inherits none of the filling's
  heap): the recorded feed from a loopback arXiv (1,504 new papers), every archive followed,
  a window long enough to keep everything. Seconds, median of 3 (the store filled again
  before each), the CPU time over the empty store's (which constant costs do not move), and
  on Upstash the bytes sent and received and the requests (the stand-in answers on loopback,
  with no network's delay on any of them); then one more refresh, under tracemalloc, for
  its peak Python memory alone (tracemalloc slows allocation-heavy code, arXiv's XML parsing
  most of all, so timed under it an empty store's refresh grew fivefold and the ratio shrank);
- on a fresh app (a new instance) in this process: a default feed, then the first filtered
  feed (it reads the word index's postings of its words and its best candidates), then a
  default, a filtered and a topic feed, each rendered (a new URL every time): median of 5
  (``--refresh-only`` skips them).

Baseline in the same run: the same refresh on an empty store. Every time is given as wall
time and CPU time (the machine is shared, so CPU time is the steadier of the two), and every
ratio next to its target. A refresh's CPU time is its process's (``time.process_time``):
what the function pays. The stand-ins (the loopback arXiv, and the Upstash shim with its
redis-server, which stand for servers elsewhere) run in this process and in redis-server, so
their work is in the wall time only; on Upstash the traffic column stands for it.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
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
from core.store import Store, open_store  # noqa: E402
from core.store.sqlite import SqliteStore  # noqa: E402
from core.web.app import create_app  # noqa: E402
from tests.arxiv_fake import STAT, FakeArxiv  # noqa: E402
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


def earlier_versions(real: list[Paper]) -> list[Paper]:
    """The papers the day's replacements revise, as they were first announced three days
    before: a store that holds them (any store of days gone by) makes the refresh read them
    whole and merge the new versions in, work that grows with the store until it holds them all."""
    return [
        p.model_copy(update={"version": p.version - 1, "announce_type": "new", "announced": p.announced - timedelta(3)})
        for p in real
        if p.announce_type.startswith("replace") and p.version > 1
    ]


def fill(store: Store, size: int, real: list[Paper]) -> None:
    """The store as earlier refreshes left it: ``size`` papers matched against this same
    config.json, in the stored order, the window filled long ago (so no backfill), no ETag (so
    the next day's feed is fetched): synthesised days, and the earlier versions of the papers
    the day's feed replaces. Filled by a process of its own (``child``)."""
    revised = earlier_versions(real)[:size]
    papers = [*revised, *synthesise(size - len(revised), real)]
    store.save_papers(store_order(papers, WINDOW) if size else [])
    filled = BackfillState(filled=sorted(WINDOW.categories))
    store.save_state(RefreshState(config_hash=config_hash(WINDOW), backfill=filled))


def child(action: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run ``action`` (``run_child``) in a fresh process with these settings; its JSON answer."""
    # Nothing of this shell's environment but PATH: an Upstash URL set there must never reach
    # a SQLite row's process (its fill would overwrite that store).
    done = subprocess.run(
        [sys.executable, __file__, "--child", *action],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.exit(f"bench/scale.py --child {' '.join(action)} failed:\n{done.stderr[-3000:]}")
    answer: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def run_child(action: list[str]) -> None:
    """In a fresh process, on the store its settings open: ``fill SIZE``, or a timed ``refresh``
    after a first one on a scratch store (imports, the LaTeX cache), or its ``peak`` memory."""
    settings = Settings.from_env()
    store = open_store(settings)
    if action[0] == "fill":
        real = rank_for_config(merge_papers([], parse_feed(FEED.read_bytes()).papers)[0], WINDOW)
        fill(store, int(action[1]), real)
        print("{}")
        return
    # Warmed by a refresh of another day's feed: its imports made (they cost the same at every
    # size) and no text of this day in its LaTeX and matching caches, as in a cron's function,
    # which starts cold. (A first refresh of this same feed would leave every text this one
    # converts and matches in those caches: 0.6 s of its 1.5 s.)
    yesterday = Settings.from_env({**os.environ, "ARXIV_RSS_BASE": os.environ["WARM_RSS_BASE"]})
    with tempfile.TemporaryDirectory() as scratch:
        refresh(WINDOW, yesterday, SqliteStore(Path(scratch) / "warm-up.sqlite3"))
    if action[0] == "peak":
        print(json.dumps({"peak": peak_of_refresh(store, settings)}))
        return
    started, cpu = time.perf_counter(), time.process_time()
    refresh(WINDOW, settings, store)
    print(json.dumps({"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu}))


def measure(
    label: str,
    env: dict[str, str],
    serving: Settings,
    size: int,
    shim: UpstashShim | None,
    empty: Times | None,
    feeds: bool,
) -> tuple[Times, list[str]]:
    """The refresh (in fresh processes, on the store ``env`` names), then the feeds of a fresh
    app in this process (``serving``: config.json with a topic)."""
    runs = []
    for _ in range(REPEAT):
        child(["fill", str(size)], env)
        if shim is not None:
            shim.reset_counts()
        took = child(["refresh"], env)
        runs.append((took["wall"], took["cpu"]))
    traffic = "—"
    if shim is not None:
        traffic = f"{(shim.bytes_in + shim.bytes_out) / 2**20:.1f} MiB in {shim.round_trips} requests"
    child(["fill", str(size)], env)
    refreshed, peak = medians(runs), child(["peak"], env)["peak"]
    against = ratio(refreshed, empty, "refresh") if empty else "1.0x (baseline)"
    growth = f"{(refreshed[1] - empty[1]) * 1000:+.0f} ms" if empty else "—"
    refresh_row = f"| {label} | {ms(refreshed)} | {against} | {growth} | {peak:.0f} MiB | {traffic} |"
    if not feeds:
        return refreshed, [refresh_row]
    gc.collect()  # the earlier rows' instances (their caches, cycles) go now, not in a timed request
    client = TestClient(create_app(serving, open_store(Settings.from_env(env))))  # a fresh instance
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
    return refreshed, [refresh_row, feed_row]


def main(sizes: list[int], feeds: bool = True) -> None:
    refreshes: list[str] = []
    feed_rows: list[str] = []
    yesterday = FakeArxiv()
    yesterday.serve(STAT)  # another day's feed, for the refreshing processes' warm-up
    with tempfile.TemporaryDirectory() as tmp, FakeArxiv().server as arxiv, yesterday.server as warm:
        config_path = Path(tmp) / "config.json"
        config_path.write_text(WINDOW.model_dump_json())
        served_path = Path(tmp) / "served.json"
        served_path.write_text(SERVED.model_dump_json())
        env = {
            "CONFIG_PATH": str(config_path),
            "ARXIV_RSS_BASE": arxiv.url + "/rss",
            "ARXIV_API_BASE": arxiv.url + "/api/query",
            "ARXIV_MIN_INTERVAL_S": "0",
            "WARM_RSS_BASE": warm.url + "/rss",
        }
        redis = RedisServer(Path(tmp) / "redis").start()
        shim = UpstashShim(redis.port)
        empty: dict[str, Times] = {}
        try:
            with shim.server:
                upstash = {"UPSTASH_REDIS_REST_URL": shim.url, "UPSTASH_REDIS_REST_TOKEN": shim.token}
                upstash["STORE_TIMEOUT_S"] = "60"
                for size in [0, *sizes]:
                    label = f"{size:,} stored" if size else "empty store (baseline)"
                    for name in ("SQLite", "Upstash"):
                        if name == "SQLite":  # a file of its own under DATA_DIR
                            (data_dir := Path(tmp) / f"sqlite-{size}").mkdir()
                            store_env = {**env, "DATA_DIR": str(data_dir)}
                        else:
                            redis.flush()
                            store_env = {**env, "DATA_DIR": tmp, **upstash}
                        serving = Settings.from_env({**store_env, "CONFIG_PATH": str(served_path)})
                        counted = shim if name == "Upstash" else None
                        refreshed, rows = measure(
                            f"{name}, {label}", store_env, serving, size, counted, empty.get(name), feeds
                        )
                        empty.setdefault(name, refreshed)
                        refreshes.append(rows[0])
                        feed_rows += rows[1:]
                        print(*rows, sep="\n", flush=True)
        finally:
            redis.stop()
    print(
        "\n| store | next-day refresh (wall / CPU) | ratio to empty (wall / CPU) | CPU over empty | peak memory"
        " | Upstash traffic |"
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
    if args[:1] == ["--child"]:
        run_child(args[1:])
        sys.exit()
    main([int(a) for a in args if a != "--refresh-only"] or [10_000, 30_000, 60_000], "--refresh-only" not in args)

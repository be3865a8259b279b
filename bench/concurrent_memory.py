"""Memory of concurrent filtered feeds (python bench/concurrent_memory.py [SIZE]): the peak
Python memory (tracemalloc) of one uncached filtered request against eight at once (eight
threads, eight different queries), on a SQLite store of SIZE synthesised papers (default
10,000), after the instance has read the store once. Issue 15's target: eight within 2x one.
Eight different answers are also kept in the response cache, so the same eight requests made
one after another are measured too: the difference is what concurrency itself costs.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import tracemalloc
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from bench.run import FEED  # noqa: E402
from bench.scale import WINDOW, synthesise  # noqa: E402
from core.arxiv.rss import parse_feed  # noqa: E402
from core.models import RefreshState  # noqa: E402
from core.refresh.catalog import merge_papers  # noqa: E402
from core.refresh.rank import config_hash, rank_for_config  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.store.sqlite import SqliteStore  # noqa: E402
from core.web.app import create_app  # noqa: E402

QUERIES = ["agent", "diffusion", "graph", "quantum", "galaxy", "protein", "language", "robot"]


def peak_of(client: TestClient, paths: list[str]) -> float:
    tracemalloc.start()
    threads = [threading.Thread(target=lambda p=path: client.get(p).raise_for_status()) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def main(size: int) -> None:
    real = rank_for_config(merge_papers([], parse_feed(FEED.read_bytes()).papers)[0], WINDOW)
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "config.json"
        config_path.write_text(WINDOW.model_dump_json())
        settings = Settings.from_env({"DATA_DIR": tmp, "CONFIG_PATH": str(config_path)})
        store = SqliteStore(Path(tmp) / "memory.sqlite3")
        store.save_papers(synthesise(size, real))
        store.save_state(RefreshState(config_hash=config_hash(WINDOW)))
        client = TestClient(create_app(settings, store))
        client.get("/rss?q=warm-up").raise_for_status()  # the instance reads the store once
        one = peak_of(client, ["/rss?q=abs:transformer"])
        eight = peak_of(client, [f"/rss?q=abs:{word}&n={n}" for n, word in enumerate(QUERIES)])
        tracemalloc.start()
        for n, word in enumerate(QUERIES):  # the same eight one after another: what the answers kept weigh
            client.get(f"/rss?q=abs:{word}&n=seq{n}").raise_for_status()
        in_turn = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print(
        f"{size:,} stored papers: one filtered request peaks at {one:.1f} MiB; eight at once {eight:.1f} MiB"
        f" ({eight / one:.1f}x); the same eight one after another {in_turn:.1f} MiB ({eight / in_turn:.1f}x)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)

"""Memory of concurrent filtered feeds (python bench/concurrent_memory.py [SIZE]): the peak
Python memory (tracemalloc) of the server while one uncached filtered request runs, against
eight at once (eight different queries), on a SQLite store of SIZE synthesised papers
(default 10,000), after the instance has read the store once. Issue 28's target: eight within
2x one, the answers the response cache keeps counted.

The app runs under uvicorn on loopback and the readers in another process, as on a server:
what is measured is the server's memory alone (the readers' copies of the answers are theirs).
Readers ask for gzip, as feed readers and browsers do; the last row asks for none, so every
answer is decompressed for it. The same eight one after another is what the kept answers weigh.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

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
from tests.uvicorn_server import serve  # noqa: E402

QUERIES = ["agent", "diffusion", "graph", "quantum", "galaxy", "protein", "language", "robot"]
# The readers: each path in a thread of its own (or one after another), each answer read whole.
READERS = """
import sys, threading, httpx
url, encoding, together, paths = sys.argv[1], sys.argv[2], sys.argv[3] == "together", sys.argv[4:]
def read(path):
    httpx.get(url + path, headers={"Accept-Encoding": encoding}, timeout=120).raise_for_status()
threads = [threading.Thread(target=read, args=(p,)) for p in paths]
for t in threads:
    t.start()
    if not together:
        t.join()
for t in threads:
    t.join()
"""


def peak_of(url: str, paths: list[str], encoding: str = "gzip", together: bool = True) -> float:
    """The server's peak Python memory (MiB) while readers in another process ask for ``paths``."""
    tracemalloc.start()
    mode = "together" if together else "in-turn"
    subprocess.run([sys.executable, "-c", READERS, url, encoding, mode, *paths], check=True)
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
        with serve(create_app(settings, store)) as url:
            peak_of(url, ["/rss?q=warm-up"])  # the instance reads the store once
            one = peak_of(url, ["/rss?q=abs:transformer"])
            eight = peak_of(url, [f"/rss?q=abs:{word}&n={n}" for n, word in enumerate(QUERIES)])
            in_turn = peak_of(url, [f"/rss?q=abs:{w}&n=seq{n}" for n, w in enumerate(QUERIES)], together=False)
            plain = peak_of(url, [f"/rss?q=abs:{w}&n=plain{n}" for n, w in enumerate(QUERIES)], encoding="identity")
    print(
        f"{size:,} stored papers, the server's peak: one filtered request {one:.1f} MiB; eight at once"
        f" {eight:.1f} MiB ({eight / one:.1f}x one, target 2x); the same eight one after another"
        f" {in_turn:.1f} MiB; eight at once to readers that take no gzip {plain:.1f} MiB ({plain / one:.1f}x)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)

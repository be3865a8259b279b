"""Memory of concurrent filtered feeds (python bench/concurrent_memory.py [SIZE]): the peak
Python memory (tracemalloc) of the server while eight uncached filtered requests run at once
(eight different queries), against the peak of each of them alone, on a SQLite store of SIZE
synthesised papers (default 10,000), after the instance has read the store once. Issue 28's
target: eight at once within 2x one (the costliest alone), the bounded caches counted (the
answers the response cache keeps, what the text index remembers).

The app runs under uvicorn on loopback and the readers in another process, as on a server:
what is measured is the server's memory alone (the readers' copies of the answers are theirs).
Readers ask for gzip, as feed readers and browsers do; a last row asks the eight queries again
(other URLs) for readers that take none, so every answer is decompressed for them. Each query
alone runs on an instance of its own: nothing the others' requests left is counted in it.
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
# The readers: each path in a thread of its own, each answer read whole.
READERS = """
import sys, threading, httpx
url, encoding, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
def read(path):
    httpx.get(url + path, headers={"Accept-Encoding": encoding}, timeout=120).raise_for_status()
threads = [threading.Thread(target=read, args=(p,)) for p in paths]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def peak_of(url: str, paths: list[str], encoding: str = "gzip") -> float:
    """The server's peak Python memory (MiB) while readers in another process ask for ``paths``
    all at once."""
    tracemalloc.start()
    subprocess.run([sys.executable, "-c", READERS, url, encoding, *paths], check=True)
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
        eight_paths = [f"/rss?q=abs:{word}&n={n}" for n, word in enumerate(QUERIES)]
        alone = []
        for path in eight_paths:  # each query on an instance of its own
            with serve(create_app(settings, store)) as url:
                peak_of(url, ["/rss?q=warm-up"])  # the instance reads the store once
                alone.append(peak_of(url, [path]))
        with serve(create_app(settings, store)) as url:
            peak_of(url, ["/rss?q=warm-up"])
            eight = peak_of(url, eight_paths)
            plain = peak_of(url, [f"{path}&plain" for path in eight_paths], encoding="identity")
    one = max(alone)
    print(
        f"{size:,} stored papers, the server's peak: one filtered request alone {min(alone):.1f}-{one:.1f} MiB;"
        f" eight at once {eight:.1f} MiB ({eight / one:.1f}x the costliest alone, target 2x); eight again at"
        f" once to readers that take no gzip {plain:.1f} MiB"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)

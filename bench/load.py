"""Load: the app under uvicorn on loopback, driven by wrk at 64 connections for a fixed time.

``make bench`` runs it (or ``python bench/load.py [SECONDS]``). One uvicorn process serves a
SQLite store holding the real 1,504-paper feed, as one Vercel function instance would; wrk
(Debian's package) runs beside it on the same 2 cores. Against the same server in the same
run: a static file of the feed's bytes (the baseline), the 100-item feed, the feed answered
304 from an ETag, a filtered feed (a query over every stored paper) and the index page.
Every answer must be a 2xx or 304 and no socket may fail; results go to stdout as Markdown.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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

CONNECTIONS = 64
THREADS = 2
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class Result:
    label: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers plus socket errors (connect, read, write, timeout)


# A distinct URL for every request (an ignored parameter), so no answer comes from the cache.
UNIQUE_URLS = """
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, wrk.path .. "&n=" .. n .. "-" .. math.random(1e9))
end
"""


def wrk(label: str, url: str, seconds: int, headers: dict[str, str] | None = None, script: str = "") -> Result:
    args = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script:
        args += ["-s", script]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    latency = {p: float(v) * UNITS[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    assert set(latency) == {"50", "99"}, out
    return Result(label, rps, latency["50"], latency["99"], requests, errors)


def drain(base: str) -> None:
    """Wait until the server has worked off the previous case's queue (answers /health at once)."""
    deadline = time.monotonic() + 120
    while True:
        started = time.monotonic()
        httpx.get(base + "/health", timeout=60)
        if time.monotonic() - started < 0.05:
            return
        assert time.monotonic() < deadline, "the server never became idle"


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench does it)")
    with tempfile.TemporaryDirectory() as tmp:
        data, static = Path(tmp), Path(tmp) / "static"
        static.mkdir()
        merged, _, _ = merge_papers([], parse_feed(FEED.read_bytes()).papers)
        SqliteStore(data / "arxiv-rss-bot.sqlite3").save_papers(rank_for_config(merged, CONFIG))
        env = {"DATA_DIR": tmp, "CONFIG_PATH": str(ROOT / "config.json")}
        with launch(env, static) as base:
            feed = httpx.get(base + "/rss?limit=100")
            assert feed.content.count(b"<item>") == 100
            (static / "feed.xml").write_bytes(feed.content)
            etag = feed.headers["etag"]
            assert httpx.get(base + "/rss?limit=100", headers={"If-None-Match": etag}).status_code == 304
            unique = data / "unique.lua"
            unique.write_text(UNIQUE_URLS)
            cases: list[tuple[str, str, dict[str, str] | None, str]] = [
                (f"static file, {len(feed.content) // 1024} KiB (baseline)", "/bench-static/feed.xml", None, ""),
                ("the same bytes from an async route holding them (the limit)", "/bench-bytes/feed.xml", None, ""),
                ("100-item RSS feed", "/rss?limit=100", None, ""),
                ("the same feed, 304 by ETag", "/rss?limit=100", {"If-None-Match": etag}, ""),
                ("100-item RSS feed, every URL new (rendered each time)", "/rss?limit=100", None, str(unique)),
                (
                    "filtered feed (?keywords=, all papers scanned)",
                    "/rss?keywords=agent,kv%20cache&min_score=0",
                    None,
                    "",
                ),
                ("filtered feed, every URL new", "/rss?keywords=agent,kv%20cache&min_score=0", None, str(unique)),
                ("index page (50 papers)", "/", None, ""),
            ]
            results = []
            for label, path, headers, script in cases:
                drain(base)
                results.append(wrk(label, base + path, seconds, headers, script))
    baseline = results[0].requests_per_s
    print(f"wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s, one uvicorn process, SQLite\n")
    print("| what | req/s | p50 | p99 | requests | errors | req/s vs static |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        ratio = f"{r.requests_per_s / baseline:.2f}x"
        row = f"| {r.label} | {r.requests_per_s:,.0f} | {r.p50_ms:.1f} ms | {r.p99_ms:.1f} ms | {r.requests:,} |"
        print(f"{row} {r.errors} | {ratio} |")
    failed = [r.label for r in results if r.errors]
    if failed:
        sys.exit(f"errors under load: {', '.join(failed)}")


if __name__ == "__main__":
    main()

"""A refresh's first run in a fresh process against feedparser.parse alone: whole processes,
alternated, medians of 5 (python bench/coldrefresh.py). This is what issue 15's 1.5x target
measures. The refresh side parses the recorded 1,504-item day, converts its LaTeX, matches,
ranks and saves it to SQLite, every archive followed; no network.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEED = ROOT / "tests" / "data" / "rss-all-archives-combined-2024-11-28.xml"
BASELINE = f"import feedparser; feedparser.parse(open({str(FEED)!r}, 'rb').read())"
PIPELINE = f"""
import pathlib, tempfile
from core import taxonomy
from core.arxiv.rss import parse_feed
from core.config import parse_config
from core.refresh.rank import rank_for_config
from core.store.sqlite import SqliteStore
config = parse_config({{"categories": sorted(taxonomy.ARCHIVES), "keywords": ["LLM", "language model"]}})
papers = rank_for_config(parse_feed(open({str(FEED)!r}, "rb").read()).papers, config)
SqliteStore(pathlib.Path(tempfile.mkdtemp()) / "cold.sqlite3").save_papers(papers)
"""


def seconds(code: str) -> float:
    started = time.perf_counter()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
    return time.perf_counter() - started


def main() -> None:
    baseline, pipeline = [], []
    for _ in range(5):
        baseline.append(seconds(BASELINE))
        pipeline.append(seconds(PIPELINE))
    base, pipe = statistics.median(baseline), statistics.median(pipeline)
    print(f"feedparser.parse alone: {base:.2f} s; parse, convert, match, rank, save: {pipe:.2f} s; {pipe / base:.2f}x")


if __name__ == "__main__":
    main()

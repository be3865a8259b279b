"""Cold start: wall time of a fresh `import api.index` (what Vercel pays on a cold function)
against a bare `import fastapi`, alternated in the same run, medians over many runs.

Run: python bench/coldstart.py [RUNS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
HEAVY = ("dashscope", "feedparser", "pypdf", "markdown_it", "upstash_redis", "requests", "aiohttp")


def wall(code: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PATH": os.environ.get("PATH", ""), "DATA_DIR": tmp, "PYTHONDONTWRITEBYTECODE": "1"}
        loaded = subprocess.run(
            [sys.executable, "-c", f"import sys, api.index; print([m for m in {HEAVY!r} if m in sys.modules])"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        baseline, app = [], []
        for _ in range(runs):
            baseline.append(wall("import fastapi", env))
            app.append(wall("import api.index", env))
        empty = statistics.median(wall("pass", env) for _ in range(10))
    b, a = statistics.median(baseline), statistics.median(app)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, {runs} runs each, alternated\n")
    print("| what | median wall time | minus interpreter start |")
    print("|---|---|---|")
    print(f"| `python -c pass` (interpreter start) | {empty * 1000:.0f} ms | |")
    print(f"| `import fastapi` (baseline) | {b * 1000:.0f} ms | {(b - empty) * 1000:.0f} ms |")
    print(f"| `import api.index` (the app, store opened) | {a * 1000:.0f} ms | {(a - empty) * 1000:.0f} ms |")
    print(f"| ratio app / baseline | {a / b:.2f}x | {(a - empty) / (b - empty):.2f}x |")
    print(f"\nRefresh-only modules loaded by `import api.index`: {loaded}")


if __name__ == "__main__":
    main()

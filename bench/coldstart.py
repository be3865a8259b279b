"""Cold start: a fresh `import api.index` (what Vercel pays on a cold function: the app built,
the store opened) against a bare `import fastapi`, alternated in the same run, medians of
wall and CPU time (CPU time moves less on a shared machine) over many runs.

Both run as Vercel runs them by default: PYTHONDONTWRITEBYTECODE=1 and no bytecode for the
app, so every cold start compiles the app's sources (the installed packages here have theirs).
A third row runs the app with its bytecode compiled beforehand, as Vercel's builder does for
app and packages alike when the project sets VERCEL_PYTHON_COMPILEALL=1 (vercel.json's
build.env does). A fourth opens the Upstash store instead of SQLite (an https address
nothing answers: opening sends nothing, and TLS work done at import would be counted), and a
fifth does both, as a Vercel deployment runs.

Run: python bench/coldstart.py [RUNS]
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
HEAVY = ("dashscope", "feedparser", "pypdf", "markdown_it", "upstash_redis", "requests", "aiohttp")
TARGET = 1.3  # issue 28: import api.index at most 1.3x import fastapi


def timed(code: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one fresh interpreter running ``code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def verdict(ratio: float) -> str:
    return f"{ratio:.2f}x (target at most {TARGET}x: {'met' if ratio <= TARGET else 'not met'})"


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    # Left by a run without PYTHONDONTWRITEBYTECODE (a test's subprocess), it would be read.
    stray = [str(p.relative_to(ROOT)) for package in ("api", "core") for p in (ROOT / package).rglob("__pycache__")]
    if stray:
        sys.exit(f"bytecode found in {stray[0]}: remove it (find api core -name __pycache__ | xargs rm -r)")
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PATH": os.environ.get("PATH", ""), "DATA_DIR": tmp, "PYTHONDONTWRITEBYTECODE": "1"}
        prefix = str(Path(tmp) / "pycache")
        compiled = {**env, "PYTHONPYCACHEPREFIX": prefix}
        upstash_vars = {"UPSTASH_REDIS_REST_URL": "https://127.0.0.1:9", "UPSTASH_REDIS_REST_TOKEN": "unused"}
        upstash, upstash_compiled = {**env, **upstash_vars}, {**compiled, **upstash_vars}
        # Written by one import of each store into a tree of its own (as Vercel's _vc_pycache), so
        # the other runs find none; under a prefix Python reads every module's bytecode there.
        writing = {k: v for k, v in compiled.items() if k != "PYTHONDONTWRITEBYTECODE"}
        for store in ({}, upstash_vars):
            subprocess.run([sys.executable, "-c", "import api.index"], cwd=ROOT, env={**writing, **store}, check=True)
        loaded = subprocess.run(
            [sys.executable, "-c", f"import sys, api.index; print([m for m in {HEAVY!r} if m in sys.modules])"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        baseline, app, app_compiled, app_upstash, vercel = [], [], [], [], []
        for _ in range(runs):
            baseline.append(timed("import fastapi", env))
            app.append(timed("import api.index", env))
            app_compiled.append(timed("import api.index", compiled))
            app_upstash.append(timed("import api.index", upstash))
            vercel.append(timed("import api.index", upstash_compiled))
        empty = [timed("pass", env) for _ in range(10)]

    def median(samples: list[tuple[float, float]], i: int) -> float:
        return statistics.median(s[i] for s in samples)

    b, a, c, u, v, e = (median(s, 0) for s in (baseline, app, app_compiled, app_upstash, vercel, empty))
    bc, ac, cc, uc, vc = (median(s, 1) for s in (baseline, app, app_compiled, app_upstash, vercel))
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, {runs} runs each, alternated\n")
    print("| what | median wall time | minus interpreter start | median CPU time |")
    print("|---|---|---|---|")
    print(f"| `python -c pass` (interpreter start) | {e * 1000:.0f} ms | | |")
    print(f"| `import fastapi` (baseline) | {b * 1000:.0f} ms | {(b - e) * 1000:.0f} ms | {bc * 1000:.0f} ms |")
    print(
        f"| `import api.index` (the app, store opened) | {a * 1000:.0f} ms | {(a - e) * 1000:.0f} ms"
        f" | {ac * 1000:.0f} ms |"
    )
    print(
        f"| the same, the app's bytecode compiled beforehand | {c * 1000:.0f} ms | {(c - e) * 1000:.0f} ms"
        f" | {cc * 1000:.0f} ms |"
    )
    print(
        f"| the same, the Upstash store opened (as on Vercel) | {u * 1000:.0f} ms | {(u - e) * 1000:.0f} ms"
        f" | {uc * 1000:.0f} ms |"
    )
    print(
        f"| both: bytecode compiled, Upstash (as on Vercel) | {v * 1000:.0f} ms | {(v - e) * 1000:.0f} ms"
        f" | {vc * 1000:.0f} ms |"
    )
    print(f"| ratio app / baseline | {verdict(a / b)} | {(a - e) / (b - e):.2f}x | {verdict(ac / bc)} |")
    print(f"| ratio, bytecode compiled / baseline | {verdict(c / b)} | {(c - e) / (b - e):.2f}x | {verdict(cc / bc)} |")
    print(f"| ratio, Upstash / baseline | {verdict(u / b)} | {(u - e) / (b - e):.2f}x | {verdict(uc / bc)} |")
    print(f"| ratio, both / baseline | {verdict(v / b)} | {(v - e) / (b - e):.2f}x | {verdict(vc / bc)} |")
    print(f"\nRefresh-only modules loaded by `import api.index`: {loaded}")


if __name__ == "__main__":
    main()

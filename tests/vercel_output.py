"""Checks the output of the Vercel CLI's own build (`make vercel-check`), not run by pytest.

Usage: python tests/vercel_output.py .vercel-check/app/.vercel/output
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def check(output: Path) -> list[str]:
    problems = []
    config = json.loads((output / "config.json").read_text())
    routes = config.get("routes", [])
    if not any(r.get("dest") == "/api/index" and re.fullmatch(r["src"], "/rss/cs.AI") for r in routes if "src" in r):
        problems.append("no route sends /rss/cs.AI to /api/index")
    crons = {c["path"]: c["schedule"] for c in config.get("crons", [])}
    if crons.get("/api/cron/refresh") != "30 5 * * *":
        problems.append(f"the daily refresh cron is missing or changed: {crons}")
    function = json.loads((output / "functions/api/index.func/.vc-config.json").read_text())
    if function.get("maxDuration") != 300:
        problems.append(f"maxDuration is {function.get('maxDuration')}, not 300")
    if function.get("runtime") != "python3.12":
        problems.append(f"runtime is {function.get('runtime')}")
    files = function.get("filePathMap", {})
    vendored = {path.split("/")[1] for path in files if path.startswith("_vendor/")}
    for package in ("fastapi", "feedgen", "upstash_redis", "dashscope", "feedparser", "jinja2"):
        if package not in vendored:
            problems.append(f"{package} is not installed in the function (requirements.txt not used?)")
    if "api/index.py" not in files or "config.json" not in files:
        problems.append("api/index.py or config.json is not in the function")
    if any(path.startswith(("tests/", "bench/")) for path in files):
        problems.append("tests or benchmarks are bundled into the function")
    return problems


if __name__ == "__main__":
    found = check(Path(sys.argv[1]))
    for problem in found:
        print(f"vercel-check: {problem}")
    print("vercel-check: ok" if not found else f"vercel-check: {len(found)} problem(s)")
    sys.exit(1 if found else 0)

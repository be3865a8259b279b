"""Checks the output of the Vercel CLI's own build (`make vercel-check`), not run by pytest.

Usage: python tests/vercel_output.py OUTPUT_DIR BUILD_LOG

OUTPUT_DIR is `.vercel/output` of one `vercel build`; BUILD_LOG is what that build printed.
The route table in `config.json` is walked the way Vercel's router reads it, so a path is
checked to reach the function *and* to reach it with its own path: under a backend framework
preset a rewrite hands the app the rewritten path (and every URL would 404 in the app).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

PATHS = ("/", "/rss/cs.AI", "/api/cron/refresh")
CRONS = [("/api/cron/refresh", "0 6 * * *"), ("/api/cron/summarize", "0 7 * * *"), ("/api/cron/refresh", "0 13 * * *")]
PACKAGES = ("fastapi", "feedgen", "dashscope", "feedparser", "jinja2", "httpx")
# Phases the router enters only on an error or a filesystem miss, which a function path never is.
SKIPPED_PHASES = {"error", "miss", "hit"}
PUBLIC = Path(__file__).resolve().parent.parent / "public"


def _expand(template: str, match: re.Match[str]) -> str:
    return re.sub(r"\$(\d+)", lambda m: match.group(int(m.group(1))) or "", template)


def resolve(routes: list[dict[str, object]], functions: set[str], path: str) -> tuple[str | None, str]:
    """The function a request for ``path`` reaches and the path that function's app sees,
    or (None, why not)."""
    current, phase = path, None
    for route in routes:
        if "handle" in route:
            phase = route["handle"]
            continue
        if phase in SKIPPED_PHASES or "src" not in route:
            continue
        match = re.match(str(route["src"]), current)
        if not match:
            continue
        if "dest" not in route:
            if "status" in route:
                return None, f"answered {route['status']} by route {route['src']}"
            continue
        target = _expand(str(route["dest"]), match).split("?")[0]
        # A plain rewrite to a function keeps the URL the client asked for; a transform
        # (what backend framework presets use) sets the path the app sees.
        seen = path
        for transform in route.get("transforms", []):  # type: ignore[attr-defined]
            if transform.get("type") == "request.path" and transform.get("op") == "set":
                seen = _expand(str(transform["args"]), match)
        if target.lstrip("/") in functions:
            return target.lstrip("/"), seen
        current = target
    return None, "no route reaches a function"


def check(output: Path, build_log: str) -> list[str]:
    problems = []
    for line in build_log.splitlines():
        if "WARNING" in line and "rewrite" in line.lower():
            problems.append(f"the build warned: {line.strip()}")
    if "config.json: ok" not in build_log:
        problems.append("the build did not check config.json (vercel.json's buildCommand, python3 -m core check)")
    config = json.loads((output / "config.json").read_text())
    functions = {
        str(p.parent.relative_to(output / "functions")).removesuffix(".func")
        for p in (output / "functions").glob("**/.vc-config.json")
    }
    for path in PATHS:
        function, seen = resolve(config.get("routes", []), functions, path)
        if function is None:
            problems.append(f"{path}: {seen}")
        elif seen != path:
            problems.append(f"{path} reaches {function} as {seen}: the app would answer 404")
    crons = [(c["path"], c["schedule"]) for c in config.get("crons", [])]
    if crons != CRONS:
        problems.append(f"the crons are {crons}, not {CRONS}")
    if len(functions) != 1:
        problems.append(f"expected one function, found {sorted(functions)}")
        return problems
    function = json.loads((output / "functions" / f"{functions.pop()}.func" / ".vc-config.json").read_text())
    if function.get("maxDuration") != 300:
        problems.append(f"maxDuration is {function.get('maxDuration')}, not 300")
    if function.get("runtime") != "python3.12":
        problems.append(f"runtime is {function.get('runtime')}")
    files = function.get("filePathMap", {})
    vendored = {path.split("/")[1] for path in files if path.startswith("_vendor/")}
    for package in PACKAGES:
        if package not in vendored:
            problems.append(f"{package} is not installed in the function (requirements.txt not used?)")
    if "api/index.py" not in files or "config.json" not in files:
        problems.append("api/index.py or config.json is not in the function")
    # A cold function that finds no bytecode compiles every module it imports, the packages' too
    # (about 3x the CPU of a cold start with it, bench/README.md): vercel.json's build.env asks
    # the builder to ship it (VERCEL_PYTHON_COMPILEALL, read in @vercel/python's compileall.ts).
    for source in ("api/index.py", "core/web/app.py", "_vendor/fastapi/routing.py"):
        folder, name = source.rsplit("/", 1)
        if f"{folder}/__pycache__/{name.removesuffix('.py')}.cpython-312.pyc" not in files:
            problems.append(f"{source} has no bytecode in the function (vercel.json's build.env not applied?)")
    if any(path.startswith(("tests/", "bench/", ".vercel_python_packages/")) for path in files):
        problems.append("tests, benchmarks or the build check's packages are bundled into the function")
    # Static files are answered before any rewrite: only public/ may be published, never the
    # source, the tests or config.json (Vercel publishes the whole repository without it).
    static = output / "static"
    published = {str(p.relative_to(static)) for p in static.rglob("*") if p.is_file()} if static.is_dir() else set()
    allowed = {str(p.relative_to(PUBLIC)) for p in PUBLIC.rglob("*") if p.is_file()}
    if published - allowed:
        problems.append(f"files outside public/ are published as static files: {sorted(published - allowed)[:5]}")
    return problems


if __name__ == "__main__":
    output_dir, log_file = Path(sys.argv[1]), Path(sys.argv[2])
    found = check(output_dir, log_file.read_text())
    for problem in found:
        print(f"vercel-check: {problem}")
    print(f"vercel-check: {output_dir}: " + ("ok" if not found else f"{len(found)} problem(s)"))
    sys.exit(1 if found else 0)

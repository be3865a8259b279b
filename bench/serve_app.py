"""Benchmark server: the real app under uvicorn, plus a static file as the baseline.

``launch(env, static_dir)`` runs this file in a subprocess (``python bench/serve_app.py PORT
STATIC_DIR``, settings from ``env``) and yields its base URL once it answers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))

from tests.loopback import free_port  # noqa: E402
from tests.uvicorn_server import wait_for_health  # noqa: E402


@contextmanager
def launch(env: dict[str, str], static_dir: Path) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__)), str(port), str(static_dir)],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, server)
        yield base
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    import uvicorn
    from fastapi import Response
    from fastapi.staticfiles import StaticFiles

    from core.web.app import create_app

    port, static_dir = int(sys.argv[1]), sys.argv[2]
    app = create_app()
    app.mount("/bench-static", StaticFiles(directory=static_dir), name="bench-static")

    @app.get("/bench-bytes/{name}")
    async def fixed_bytes(name: str) -> Response:
        """The limit for an answer from memory: an async route returning bytes it holds."""
        if name not in held:
            held[name] = (Path(static_dir) / name).read_bytes()
        return Response(held[name], media_type="application/rss+xml")

    held: dict[str, bytes] = {}
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

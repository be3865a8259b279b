"""Benchmark server: the real app under uvicorn, plus a static file as the baseline.

``launch(env, static_dir)`` runs this file in a subprocess (``python bench/serve_app.py PORT
STATIC_DIR``, settings from ``env``) and yields its base URL once it answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/health", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, "the app exited"
                assert time.monotonic() < deadline, "the app did not start within 30 s"
                time.sleep(0.05)
        yield base
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    import uvicorn
    from fastapi.staticfiles import StaticFiles

    from core.web import create_app

    port, static_dir = int(sys.argv[1]), sys.argv[2]
    app = create_app()
    app.mount("/bench-static", StaticFiles(directory=static_dir), name="bench-static")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

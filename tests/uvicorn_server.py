"""Run an ASGI app under a real uvicorn on a free loopback port, for tests (and benchmarks)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from tests.waiting import wait_until


def wait_for_health(url: str, process: subprocess.Popen[Any], timeout_s: float = 30) -> None:
    """Poll ``url``/health until the server in ``process`` answers."""

    def answers() -> bool:
        try:
            httpx.get(url + "/health", timeout=5)
        except httpx.TransportError:
            assert process.poll() is None, "the server exited"
            return False
        return True

    wait_until(answers, "the server answered /health", timeout_s=timeout_s, every_s=0.05)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "uvicorn started")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

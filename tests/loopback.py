"""A real HTTP server on 127.0.0.1 for tests: whatever lies across the network, faked faithfully.

``LoopbackServer`` runs a handler function in a thread and records every request it gets.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering (to test client timeouts)
    trickle_s: float = 0.0  # send the body a few bytes at a time, this long apart (a slow upstream)


Handler = Callable[[Request], Reply]


def free_port() -> int:
    """A loopback port nothing listens on (for servers started as separate processes)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (a timeout or size-cap test) is not news; anything else is."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LoopbackServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.spans: list[tuple[float, float]] = []  # (arrived, answered) per request, time.monotonic()
        self._lock = threading.Lock()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and
            # the client's delayed ACK add ~40 ms to every keep-alive response.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()
                )
                with outer._lock:
                    outer.requests.append(request)
                reply = outer.handler(request)
                if reply.delay_s:
                    time.sleep(reply.delay_s)  # the fake server's latency, not a test waiting
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if self.command != "HEAD" and reply.status not in (204, 304):
                        self._write(reply)
                except OSError:
                    pass  # the client gave up (a timeout or size-cap test)
                with outer._lock:
                    outer.spans.append((request.at, time.monotonic()))

            def _write(self, reply: Reply) -> None:
                if not reply.trickle_s:
                    self.wfile.write(reply.body)
                    return
                for start in range(0, len(reply.body), 10):
                    self.wfile.write(reply.body[start : start + 10])
                    self.wfile.flush()
                    time.sleep(reply.trickle_s)  # the fake upstream's pace, not a test waiting

            do_GET = do_POST = do_HEAD = _serve

            def log_message(self, fmt: str, *args: object) -> None:
                pass

        self._server = _QuietServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        # serve_forever checks for shutdown every poll interval: its 0.5 s default made every
        # test's teardown wait about half a second.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Keep-alive HTTP/1.1 connections to one origin, over the standard library's ``http.client``.

The Upstash store's REST client (core.store.upstash_rest) sends its requests through these.
It is not httpx because of the cold start: ``http.client`` and ``ssl`` are loaded by
``import fastapi`` already (Starlette imports them), while httpx and httpcore cost a cold
function about 28 ms (bench/README.md, "Cold start"). The TLS context (certifi's CA bundle,
about 15 ms to load) is built when the first https connection is made: that request needs
it anyway, and a cold start that serves from the CDN or answers an error never pays it.

Safe under threads (FastAPI runs sync routes in a threadpool): a request takes an idle
connection or opens one, and gives it back once its answer is read whole. An idle connection
whose socket has become readable was closed by the server (or holds bytes nobody asked for):
it is dropped before use, as httpcore does, so a server's idle timeout never fails a request.
A request that fails once sent is not sent again (a write might have been applied).

Every wait (connect, TLS handshake, each send and each read) is bounded by the request's
timeout, as ``httpx.Timeout(t)`` bounds each. Every network failure raises ``HTTPFailure``
with what happened, in words, and the origin (never a header, so never a token).

Unlike httpx, it reads no proxy (``HTTPS_PROXY``) or CA (``SSL_CERT_FILE``) settings from the
environment: Upstash is reached directly, and its certificate checked against certifi's
bundle. A failed request is not sent again on a fresh connection (httpx did not either).
"""

from __future__ import annotations

import http.client
import logging
import select
import socket
import ssl
import threading
import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger(__name__)
MAX_IDLE = 16  # connections kept open between requests (httpx keeps 20)


class HTTPFailure(Exception):
    """The request got no HTTP answer: refused, timed out, reset, TLS, or not HTTP."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes  # decoded: a gzip answer is inflated


class Connections:
    def __init__(self, url: str, user_agent: str) -> None:
        parts = urlsplit(url)
        # Told at the first request (as httpx did), not here: a store opened with a bad URL
        # still gives an app that answers 503 with the fix. The URL is not repeated: it may hold
        # a pasted token.
        self.problem = (
            "" if parts.scheme in ("http", "https") and parts.hostname else "not an http(s):// URL with a host"
        )
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        try:
            self.port = parts.port or (443 if self.https else 80)
        except ValueError:  # a port that is not a number
            self.port, self.problem = 0, "not a URL with a valid port"
        self.origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        self.prefix = parts.path.rstrip("/")  # a URL's path is kept before every request's path
        self.user_agent = user_agent
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def post(self, path: str, body: bytes, headers: dict[str, str], timeout_s: float) -> Answer:
        """POST ``body`` to the origin's ``prefix + path``; the answer read whole."""
        if self.problem:
            raise HTTPFailure(f"the URL is {self.problem}")
        sent = {"User-Agent": self.user_agent, "Accept-Encoding": "gzip", **headers}
        conn: http.client.HTTPConnection | None = None
        try:
            conn = self._take(timeout_s)
            try:
                conn.request("POST", self.prefix + path or "/", body=body, headers=sent)
            except ValueError as exc:  # http.client's message would repeat the value: a token, maybe
                if isinstance(exc, OSError):  # a TLS failure is a ValueError too: told below
                    raise
                raise HTTPFailure(
                    f"{self.origin}: a header or the path holds a line break or another character HTTP"
                    " forbids (pasted with the token?)"
                ) from None
            response = conn.getresponse()
            answer = Answer(response.status, response.headers, _decoded(response.read(), response.headers))
        except (OSError, http.client.HTTPException) as exc:
            if conn is not None:
                conn.close()
            raise HTTPFailure(f"{self.origin}: {_what_failed(exc, timeout_s)}") from None
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        # As httpx logs each request (the CLI's -v shows them; never a header, so never a token).
        log.info('HTTP Request: POST %s%s "HTTP/1.1 %d"', self.origin, self.prefix + path, answer.status)
        if response.will_close:
            conn.close()
        else:
            self._give_back(conn)
        return answer

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _take(self, timeout_s: float) -> http.client.HTTPConnection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._open(timeout_s)
            if conn.sock is not None and not _readable(conn.sock):
                conn.sock.settimeout(timeout_s)
                return conn
            conn.close()  # the server closed it while it was idle

    def _open(self, timeout_s: float) -> http.client.HTTPConnection:
        if not self.https:
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout_s)
        return http.client.HTTPSConnection(self.host, self.port, timeout=timeout_s, context=self._tls_context())

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:  # two first requests at once may both build one: either serves
            import certifi  # only here: a cold start that makes no https request never loads it

            self._tls = ssl.create_default_context(cafile=certifi.where())
        return self._tls

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return
        conn.close()


def _readable(sock: socket.socket) -> bool:
    """Whether reading would not block: on an idle connection, EOF (closed by the server)."""
    if hasattr(select, "poll"):  # select.select fails on descriptors past 1024
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


def _decoded(raw: bytes, headers: http.client.HTTPMessage) -> bytes:
    encoding = (headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding == "identity":
        return raw
    if encoding != "gzip":
        raise http.client.HTTPException(f"an answer in {encoding!r}, which was not asked for (only gzip)")
    inflate = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)  # 16: the gzip wrapper
    try:
        body = inflate.decompress(raw) + inflate.flush()
    except zlib.error as exc:
        raise http.client.HTTPException(f"a gzip answer that does not inflate ({exc})") from None
    if not inflate.eof:
        raise http.client.HTTPException("a gzip answer cut short")
    if inflate.unused_data:
        raise http.client.HTTPException("a gzip answer of several members, or with bytes after it")
    return body


def _what_failed(exc: OSError | http.client.HTTPException, timeout_s: float) -> str:
    """A network failure in words (the order matters: the later are the broader)."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:.2g} s (timed out)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens at that address)"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(exc, BrokenPipeError):
        return "the server closed the connection while the request was sent"
    if isinstance(exc, ConnectionResetError):
        return "the connection was reset by the server"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, socket.gaierror):
        return f"host not found ({exc.strerror})"
    if isinstance(exc, http.client.BadStatusLine):
        return f"not an HTTP answer (status line {str(exc)[:80]!r})"
    if isinstance(exc, http.client.HTTPException):
        return f"a broken HTTP answer: {type(exc).__name__}: {str(exc)[:200]}"
    return f"network error ({exc.strerror or exc})"

"""An Upstash-REST-compatible server in front of a real redis-server, for tests.

It follows Upstash's REST API: POST a JSON command array to ``/``, or a 2-D array to
``/pipeline`` or ``/multi-exec``; ``Authorization: Bearer <token>`` (or ``?_token=``) or 401;
``{"result": ...}`` or ``{"error": "ERR ..."}`` (400 for a failed single command, 200 with
per-command entries for pipelines and transactions, 400 for a discarded transaction); with
``Upstash-Encoding: base64`` every string in a result is base64 except the "OK" status.
It counts requests (round trips), commands and the bytes of requests and answers, and can be
made slow.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.loopback import LoopbackServer, Reply, Request
from tests.redis_server import RedisError, Resp, SimpleString

JSON = {"Content-Type": "application/json"}


class UpstashShim:
    def __init__(self, redis_port: int, token: str = "test-token") -> None:
        self.redis_port = redis_port
        self.token = token
        self.delay_s = 0.0
        # Upstash (free and pay-as-you-go) refuses a request over 10 MB, and an answer too.
        self.max_request_bytes = 10_000_000
        self.fault: Callable[[Request], None] | None = None  # called before each request is served
        self.commands: Counter[str] = Counter()
        self.fields_read: Counter[str] = Counter()  # HMGET fields asked of each hash
        self.round_trips = 0
        self.bytes_in = 0  # request bodies
        self.bytes_out = 0  # answer bodies (what Upstash's bandwidth counts, with the requests)
        self._lock = threading.Lock()
        self.server = LoopbackServer(self._handle)

    @property
    def url(self) -> str:
        return self.server.url

    def reset_counts(self) -> None:
        with self._lock:
            self.commands.clear()
            self.fields_read.clear()
            self.round_trips = 0
            self.bytes_in = self.bytes_out = 0

    @property
    def command_count(self) -> int:
        return sum(self.commands.values())

    def _handle(self, request: Request) -> Reply:
        reply = self._answer(request)
        with self._lock:
            self.bytes_in += len(request.body)
            self.bytes_out += len(reply.body)
        return reply

    def _answer(self, request: Request) -> Reply:
        if len(request.body) > self.max_request_bytes:
            return _reply(400, {"error": "ERR max request size exceeded"})
        reply = self._serve(request)
        if len(reply.body) > self.max_request_bytes:
            return _reply(400, {"error": "ERR max request size exceeded"})
        return reply

    def _serve(self, request: Request) -> Reply:
        path = urlsplit(request.path)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        token = token or parse_qs(path.query).get("_token", [""])[0]
        if token != self.token:
            return _reply(401, {"error": "WRONGPASS invalid or missing auth token"})
        if request.method != "POST":
            return _reply(405, {"error": "ERR method not allowed"})
        try:
            body = json.loads(request.body)
        except ValueError:
            return _reply(400, {"error": "ERR failed to parse command"})
        base64_encoding = request.headers.get("upstash-encoding", "").lower() == "base64"
        endpoint = path.path.rstrip("/")
        batch = endpoint in ("/pipeline", "/multi-exec")
        if not _valid(body, batch):
            return _reply(400, {"error": "ERR failed to parse command"})
        commands = body if batch else [body]
        with self._lock:
            self.round_trips += 1
            self.commands.update(str(c[0]).upper() for c in commands)
            for c in commands:
                if str(c[0]).upper() == "HMGET":
                    self.fields_read[str(c[1])] += len(c) - 2
        if self.fault is not None:
            self.fault(request)
        try:
            conn = Resp(self.redis_port)
        except OSError as exc:
            return _reply(500, {"error": f"ERR redis unavailable: {exc}"}, self.delay_s)
        try:
            if endpoint == "/multi-exec":
                results = self._transaction(conn, commands)
                if isinstance(results, RedisError):
                    return _reply(400, {"error": str(results)}, self.delay_s)
            else:
                results = [conn.call(*c) for c in commands]
        except OSError as exc:
            return _reply(500, {"error": f"ERR redis connection lost: {exc}"}, self.delay_s)
        finally:
            conn.close()
        entries = [_entry(r, base64_encoding) for r in results]
        if batch:
            return _reply(200, entries, self.delay_s)
        return _reply(400 if "error" in entries[0] else 200, entries[0], self.delay_s)

    @staticmethod
    def _transaction(conn: Resp, commands: list[list[Any]]) -> list[Any] | RedisError:
        conn.call("MULTI")
        for command in commands:
            conn.call(*command)
        result = conn.call("EXEC")
        return result if isinstance(result, list) else RedisError(str(result))


def _valid(body: Any, batch: bool) -> bool:
    def command(c: Any) -> bool:
        return isinstance(c, list) and bool(c) and all(isinstance(a, str | int | float) for a in c)

    if batch:
        return isinstance(body, list) and bool(body) and all(command(c) for c in body)
    return command(body)


def _entry(result: Any, base64_encoding: bool) -> dict[str, Any]:
    if isinstance(result, RedisError):
        return {"error": str(result)}
    return {"result": _encode(result, base64_encoding)}


def _encode(value: Any, base64_encoding: bool) -> Any:
    if isinstance(value, list):
        return [_encode(v, base64_encoding) for v in value]
    if isinstance(value, SimpleString):
        if value == "OK" or not base64_encoding:
            return str(value)
        return base64.b64encode(value.encode()).decode()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode() if base64_encoding else value.decode("utf-8", "replace")
    return value  # int or None


def _reply(status: int, body: Any, delay_s: float = 0.0) -> Reply:
    return Reply(status, json.dumps(body).encode(), JSON, delay_s=delay_s)

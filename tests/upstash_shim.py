"""An Upstash-REST-compatible server in front of a real redis-server, for tests.

It follows Upstash's REST API: POST a JSON command array to ``/``, or a 2-D array to
``/pipeline`` or ``/multi-exec``; ``Authorization: Bearer <token>`` (or ``?_token=``) or 401;
``{"result": ...}`` or ``{"error": "ERR ..."}`` (400 for a failed single command, 200 with
per-command entries for pipelines and transactions, 400 for a discarded transaction); with
``Upstash-Encoding: base64`` every string in a result is base64 except the "OK" status.

Upstash's documented limits on free and pay-as-you-go databases hold here: a request or an
answer over 10 MB is refused ("ERR max request size exceeded"), and so is a write that would
make a single record (a string, hash, list, set: one key) exceed 100 MB ("ERR max single record
size exceeded"; reads and deletes are never refused). Both limits can be lowered by a test.
A record's size is what Redis reports for it (``MEMORY USAGE``) plus what the write adds.

Every answer carries an ``Upstash-Sync-Token`` header, a new one after each write, and the
token each request sent is recorded (read-your-writes, as Upstash's SDKs use it).
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
# Commands that add to a record: how the record's size grows (``None``: the record is replaced).
_SET_VALUE = {"SET": 2, "GETSET": 2, "SETEX": 3, "PSETEX": 3, "SETNX": 2}  # value's position
_GROWS = {"APPEND", "HSET", "HMSET", "HSETNX", "RPUSH", "LPUSH", "RPUSHX", "LPUSHX", "SADD", "ZADD", "LSET"}
_WRITES = {"DEL", "UNLINK", "EXPIRE", "PEXPIRE", "PERSIST", "INCR", "HINCRBY", "HDEL", "MSET", "EVAL", "LPOP", "RPOP"}
_WRITES |= set(_SET_VALUE) | _GROWS
RECORD_TOO_BIG = "ERR max single record size exceeded"
_ARGUMENT = (str, int, float)  # what a command's arguments may be


class UpstashShim:
    def __init__(self, redis_port: int, token: str = "test-token") -> None:
        self.redis_port = redis_port
        self.token = token
        self.delay_s = 0.0
        # Upstash (free and pay-as-you-go) refuses a request over 10 MB, and an answer too.
        self.max_request_bytes = 10_000_000
        self.max_record_bytes = 100_000_000  # ... and any single record over 100 MB
        self.fault: Callable[[Request], None] | None = None  # called before each request is served
        self.commands: Counter[str] = Counter()
        # Records read whole: HMGET fields of each hash, and MGET keys by their prefix (the key
        # up to its last ":", so "arb:paper:2411.1@ab" counts under "arb:paper").
        self.fields_read: Counter[str] = Counter()
        self.sync_tokens_sent: list[str] = []  # the Upstash-Sync-Token of each request ("" if none)
        self.sync_tokens_answered: list[str] = []  # ... and of each answer
        self._writes = 0  # what this "primary" has applied: its sync token
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
            self.sync_tokens_sent.clear()
            self.sync_tokens_answered.clear()
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
            self.sync_tokens_sent.append(request.headers.get("upstash-sync-token", ""))
            reply.headers["Upstash-Sync-Token"] = f"sync-{self._writes}"
            self.sync_tokens_answered.append(reply.headers["Upstash-Sync-Token"])
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
                elif str(c[0]).upper() == "MGET":
                    self.fields_read.update(str(key).rpartition(":")[0] for key in c[1:])
            if any(str(c[0]).upper() in _WRITES for c in commands):
                self._writes += 1
        if self.fault is not None:
            self.fault(request)
        try:
            conn = Resp(self.redis_port)
        except OSError as exc:
            return _reply(500, {"error": f"ERR redis unavailable: {exc}"}, self.delay_s)
        try:
            too_big = [self._too_big(conn, c) for c in commands]
            if endpoint == "/multi-exec":
                if any(too_big):  # refused before it runs: nothing of it is applied
                    return _reply(400, {"error": f"EXECABORT {RECORD_TOO_BIG}"}, self.delay_s)
                results = self._transaction(conn, commands)
                if isinstance(results, RedisError):
                    return _reply(400, {"error": str(results)}, self.delay_s)
            else:
                results = [
                    RedisError(RECORD_TOO_BIG) if refused else conn.call(*c)
                    for c, refused in zip(commands, too_big, strict=True)
                ]
        except OSError as exc:
            return _reply(500, {"error": f"ERR redis connection lost: {exc}"}, self.delay_s)
        finally:
            conn.close()
        entries = [_entry(r, base64_encoding) for r in results]
        if batch:
            return _reply(200, entries, self.delay_s)
        return _reply(400 if "error" in entries[0] else 200, entries[0], self.delay_s)

    def _too_big(self, conn: Resp, command: list[Any]) -> bool:
        """Whether this write would leave a record over ``max_record_bytes`` (the arguments
        measured only for a write: a read of 10,000 keys costs the stand-in nothing here)."""
        name = str(command[0]).upper()
        if name == "MSET":
            return any(_size(value) > self.max_record_bytes for value in command[2::2])
        if name in _SET_VALUE:
            position = _SET_VALUE[name]
            return len(command) > position and _size(command[position]) > self.max_record_bytes
        if name not in _GROWS or len(command) < 2:
            return False
        held = conn.call("MEMORY", "USAGE", str(command[1]), "SAMPLES", "0") or 0
        return int(held) + _size("".join(map(str, command[2:]))) > self.max_record_bytes

    @staticmethod
    def _transaction(conn: Resp, commands: list[list[Any]]) -> list[Any] | RedisError:
        conn.call("MULTI")
        for command in commands:
            conn.call(*command)
        result = conn.call("EXEC")
        return result if isinstance(result, list) else RedisError(str(result))


def _size(arg: Any) -> int:
    """An argument's bytes as Redis stores it."""
    return len(str(arg).encode())


def _valid(body: Any, batch: bool) -> bool:
    def command(c: Any) -> bool:
        return isinstance(c, list) and bool(c) and all(isinstance(a, _ARGUMENT) for a in c)

    if batch:
        return isinstance(body, list) and bool(body) and all(command(c) for c in body)
    return command(body)


def _entry(result: Any, base64_encoding: bool) -> dict[str, Any]:
    if isinstance(result, RedisError):
        return {"error": str(result)}
    return {"result": _encode(result, base64_encoding)}


def _encode(value: Any, base64_encoding: bool) -> Any:
    if isinstance(value, list):
        if not base64_encoding:  # most answers: a list of bulk strings (MGET, LRANGE)
            return [v.decode("utf-8", "replace") if type(v) is bytes else _encode(v, False) for v in value]
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

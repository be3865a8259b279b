"""The Upstash REST shim itself: it must answer as Upstash's REST API is documented to."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from tests.upstash_shim import UpstashShim


def post(
    shim: UpstashShim, path: str, body: Any, token: str | None = "test-token", b64: bool = False
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if b64:
        headers["Upstash-Encoding"] = "base64"
    return httpx.post(shim.url + path, json=body, headers=headers)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_auth_is_checked(shim: UpstashShim) -> None:
    for token in (None, "wrong"):
        response = post(shim, "/", ["PING"], token=token)
        assert response.status_code == 401
        assert response.json() == {"error": "WRONGPASS invalid or missing auth token"}
    assert httpx.post(shim.url + "/?_token=test-token", json=["PING"]).json() == {"result": "PONG"}


def test_single_commands_and_plain_encoding(shim: UpstashShim) -> None:
    assert post(shim, "/", ["SET", "k", "välue"]).json() == {"result": "OK"}
    assert post(shim, "/", ["GET", "k"]).json() == {"result": "välue"}
    assert post(shim, "/", ["GET", "missing"]).json() == {"result": None}
    assert post(shim, "/", ["INCR", "n"]).json() == {"result": 1}
    assert post(shim, "/", ["SET", "n2", 5, "EX", 100]).json() == {"result": "OK"}


def test_base64_encodes_every_string_but_ok(shim: UpstashShim) -> None:
    assert post(shim, "/", ["SET", "k", "välue"], b64=True).json() == {"result": "OK"}
    assert post(shim, "/", ["GET", "k"], b64=True).json() == {"result": b64("välue")}
    assert post(shim, "/", ["PING"], b64=True).json() == {"result": b64("PONG")}
    assert post(shim, "/", ["MGET", "k", "none"], b64=True).json() == {"result": [b64("välue"), None]}
    assert post(shim, "/", ["RPUSH", "l", "a", "b"], b64=True).json() == {"result": 2}
    assert post(shim, "/", ["LRANGE", "l", 0, -1], b64=True).json() == {"result": [b64("a"), b64("b")]}


def test_errors_are_400_with_the_redis_message(shim: UpstashShim) -> None:
    response = post(shim, "/", ["GET"])
    assert response.status_code == 400
    assert response.json() == {"error": "ERR wrong number of arguments for 'get' command"}
    assert post(shim, "/", {"not": "a command"}).status_code == 400
    assert httpx.post(shim.url, content=b"{nope", headers={"Authorization": "Bearer test-token"}).status_code == 400


def test_pipeline_is_a_2d_array_with_per_command_results(shim: UpstashShim) -> None:
    response = post(shim, "/pipeline", [["SET", "a", "1"], ["INCR", "a"], ["SET", "s", "x"], ["INCR", "s"]])
    assert response.status_code == 200
    assert response.json() == [
        {"result": "OK"},
        {"result": 2},
        {"result": "OK"},
        {"error": "ERR value is not an integer or out of range"},
    ]
    assert shim.round_trips == 1
    assert shim.command_count == 4


def test_multi_exec_is_atomic_and_discarded_whole_on_a_bad_command(shim: UpstashShim) -> None:
    assert post(shim, "/multi-exec", [["SET", "t", "1"], ["INCR", "t"]]).json() == [{"result": "OK"}, {"result": 2}]
    response = post(shim, "/multi-exec", [["SET", "t", "9"], ["NOSUCHCOMMAND"]])
    assert response.status_code == 400
    assert response.json()["error"].startswith("EXECABORT")
    assert post(shim, "/", ["GET", "t"]).json() == {"result": "2"}


def test_the_real_client_round_trips_through_the_shim(shim: UpstashShim) -> None:
    from upstash_redis import Redis

    redis = Redis(url=shim.url, token=shim.token, allow_telemetry=False)
    assert redis.set("key", "välue ✓") is True
    assert redis.get("key") == "välue ✓"
    assert redis.set("key", "other", nx=True) is False
    pipeline = redis.pipeline()
    pipeline.set("p", "1")
    pipeline.incr("p")
    assert pipeline.exec() == [True, 2]
    assert redis.eval("return ARGV[1]", args=["hi"]) == "hi"


def test_requests_and_answers_over_10_mb_are_refused_as_upstash_does(shim: UpstashShim) -> None:
    client = httpx.Client(headers={"Authorization": f"Bearer {shim.token}"})
    big = "x" * 6_000_000
    assert client.post(shim.url, json=["SET", "a", big]).json() == {"result": "OK"}
    assert client.post(shim.url, json=["SET", "b", big]).json() == {"result": "OK"}
    too_big = client.post(shim.url, json=["SET", "c", big + big])
    assert too_big.status_code == 400
    assert too_big.json() == {"error": "ERR max request size exceeded"}
    answer = client.post(shim.url, json=["MGET", "a", "b"])
    assert answer.json() == {"error": "ERR max request size exceeded"}


def test_a_write_past_the_record_limit_is_refused_and_reads_and_deletes_are_not(shim: UpstashShim) -> None:
    """Upstash refuses a write that takes one key (string, hash, list...) past 100 MB."""
    assert shim.max_record_bytes == 100_000_000  # the documented limit, unless a test lowers it
    shim.max_record_bytes = 10_000
    refused = {"error": "ERR max single record size exceeded"}
    assert post(shim, "/", ["SET", "s", "x" * 9_000]).json() == {"result": "OK"}
    assert post(shim, "/", ["SET", "s", "x" * 11_000]).status_code == 400
    assert post(shim, "/", ["SET", "s", "x" * 11_000]).json() == refused
    assert post(shim, "/", ["MSET", "a", "x", "b", "x" * 11_000]).json() == refused
    for n in range(8):  # a hash grows past the limit a field at a time
        assert post(shim, "/", ["HSET", "h", f"f{n}", "x" * 1_000]).json() == {"result": 1}
    assert post(shim, "/", ["HSET", "h", "f9", "x" * 3_000]).json() == refused
    assert post(shim, "/", ["RPUSH", "l", *["x" * 1_000] * 12]).json() == refused
    pipeline = post(shim, "/pipeline", [["RPUSH", "l", "small"], ["SET", "t", "x" * 20_000], ["GET", "s"]]).json()
    assert pipeline == [{"result": 1}, refused, {"result": "x" * 9_000}]
    transaction = post(shim, "/multi-exec", [["SET", "u", "1"], ["APPEND", "s", "x" * 2_000]])
    assert transaction.status_code == 400
    assert post(shim, "/", ["GET", "u"]).json() == {"result": None}  # nothing of it applied
    assert post(shim, "/", ["HMGET", "h", "f0"]).json() == {"result": ["x" * 1_000]}
    assert post(shim, "/", ["HDEL", "h", "f0"]).json() == {"result": 1}
    assert post(shim, "/", ["DEL", "h", "s"]).json() == {"result": 2}


def test_every_answer_carries_a_sync_token_that_changes_with_writes(shim: UpstashShim) -> None:
    first = post(shim, "/", ["SET", "k", "1"]).headers["upstash-sync-token"]
    after_read = post(shim, "/", ["GET", "k"]).headers["upstash-sync-token"]
    after_write = post(shim, "/pipeline", [["INCR", "k"]]).headers["upstash-sync-token"]
    assert first == after_read != after_write


def test_the_real_client_sends_back_the_shim_s_sync_token(shim: UpstashShim) -> None:
    """upstash-redis reads the token the shim answers and sends it with its next request: the
    shim speaks read-your-writes as Upstash does."""
    from upstash_redis import Redis

    redis = Redis(url=shim.url, token=shim.token, allow_telemetry=False)
    redis.set("key", "1")
    redis.incr("key")
    assert redis.get("key") == "2"
    assert shim.sync_tokens_sent[1:] == shim.sync_tokens_answered[:-1]
    assert len(set(shim.sync_tokens_answered)) == 2

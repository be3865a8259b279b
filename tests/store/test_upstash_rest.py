"""core.store.upstash_rest: the REST client, against the shim over a real redis-server."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from core.store.deadline import finishing_by
from core.store.upstash_rest import MAX_REQUEST_BYTES, UpstashError, UpstashREST
from tests.upstash_shim import UpstashShim


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


@pytest.mark.slow  # over a second: real time
def test_no_request_runs_past_the_end_a_job_set(shim: UpstashShim) -> None:
    """A cron job's function is killed at its limit: within ``finishing_by`` a request gets the
    time left, not its whole timeout, and one with nothing left is not sent. Another thread
    (a feed request the instance serves meanwhile) keeps its own timeout."""
    client = UpstashREST(shim.url, shim.token, 30)
    shim.delay_s = 4.0
    started = time.monotonic()
    with finishing_by(started + 0.5), pytest.raises(httpx.TimeoutException):
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

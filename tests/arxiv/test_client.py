"""core.arxiv.client: one throttle, one retry policy, deadlines, size caps, redirects (loopback arXiv)."""

from __future__ import annotations

import gzip
import itertools
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from core.arxiv.client import ArxivClient, Throttle
from core.errors import FetchError
from core.settings import Settings
from tests.arxiv_fake import COMBINED, FakeArxiv, read
from tests.loopback import LoopbackServer, Reply, Request
from tests.waiting import wait_until


class FakeClock:
    """A clock that only moves when the code under test sleeps: retries without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now + time.monotonic()  # real time still passes while a request runs

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def settings_for(fake: FakeArxiv, interval: float = 0.0, timeout: float = 5.0) -> Settings:
    return Settings(
        arxiv_rss_base=fake.rss_base,
        arxiv_api_base=fake.server.url + "/api/query",
        arxiv_pdf_base=fake.server.url + "/pdf",
        arxiv_min_interval_s=interval,
        arxiv_timeout_s=timeout,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(arxiv_server: FakeArxiv, clock: FakeClock) -> Iterator[ArxivClient]:
    with ArxivClient(settings_for(arxiv_server, interval=3.0), clock=clock, sleep=clock.sleep) as c:
        yield c


def test_one_request_with_a_descriptive_user_agent(arxiv_server: FakeArxiv, client: ArxivClient) -> None:
    response = client.get(arxiv_server.rss_base + "/cs.AI")
    assert response.status == 200
    assert response.body == read(COMBINED)
    assert arxiv_server.requests[0].headers["user-agent"].startswith("arxiv-rss-bot/")
    assert client.last_request_at is not None
    assert abs((datetime.now(UTC) - client.last_request_at).total_seconds()) < 5


def test_retries_5xx_and_429_honouring_retry_after(
    arxiv_server: FakeArxiv, client: ArxivClient, clock: FakeClock
) -> None:
    arxiv_server.queue(Reply(503, b"busy", {"Retry-After": "10"}), Reply(429, b"slow down"))
    assert client.get(arxiv_server.rss_base + "/cs.AI").status == 200
    assert len(arxiv_server.requests) == 3
    assert clock.slept[0] == 10.0  # Retry-After, longer than the 3 s backoff
    assert max(clock.slept[1:]) >= 6.0  # the second backoff doubles


def test_gives_up_after_three_attempts_with_a_clear_error(arxiv_server: FakeArxiv, client: ArxivClient) -> None:
    arxiv_server.queue(*[Reply(502, b"bad gateway")] * 3)
    with pytest.raises(FetchError, match=r"failed after 3 attempts: HTTP 502"):
        client.get(arxiv_server.rss_base + "/cs.AI")
    assert len(arxiv_server.requests) == 3


def test_a_long_retry_after_is_not_waited_out(arxiv_server: FakeArxiv, client: ArxivClient, clock: FakeClock) -> None:
    arxiv_server.queue(Reply(503, b"maintenance", {"Retry-After": "3600"}))
    with pytest.raises(FetchError, match="retry after 3600 s"):
        client.get(arxiv_server.rss_base + "/cs.AI")
    assert len(arxiv_server.requests) == 1
    assert clock.slept == []


def test_client_errors_are_not_retried(arxiv_server: FakeArxiv, client: ArxivClient) -> None:
    arxiv_server.queue(Reply(404, b"no such feed"))
    with pytest.raises(FetchError, match="HTTP 404"):
        client.get(arxiv_server.rss_base + "/cs.AI")
    assert len(arxiv_server.requests) == 1


def test_rss_api_and_pdf_requests_share_one_throttle(arxiv_server: FakeArxiv) -> None:
    """The 3-second rule counts every request to arXiv, of any kind (0.2 s here, real time)."""
    arxiv_server.files["/pdf/2411.1v1"] = Reply(200, b"%PDF-1.4 ...", {"Content-Type": "application/pdf"})
    with ArxivClient(settings_for(arxiv_server, interval=0.2)) as client:
        client.get(arxiv_server.rss_base + "/cs.AI")
        client.get(arxiv_server.server.url + "/api/query", params={"id_list": "2411.1"})
        client.get(arxiv_server.server.url + "/pdf/2411.1v1")
    arrivals = [r.at for r in arxiv_server.server.requests]
    assert len(arrivals) == 3
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(arrivals))


def test_the_throttle_counts_a_request_of_an_earlier_run(arxiv_server: FakeArxiv, clock: FakeClock) -> None:
    earlier = datetime.now(UTC) - timedelta(seconds=1)
    with ArxivClient(settings_for(arxiv_server, 3.0), earlier, clock=clock, sleep=clock.sleep) as client:
        client.get(arxiv_server.rss_base + "/cs.AI")
    assert len(clock.slept) == 1
    assert 1.8 < clock.slept[0] <= 2.0


def test_throttle_spaces_requests() -> None:
    clock = FakeClock()
    throttle = Throttle(3.0, clock, clock.sleep)
    with throttle.slot():
        pass
    with throttle.slot():
        pass
    assert len(clock.slept) == 1
    assert 2.9 < clock.slept[0] <= 3.0


@pytest.mark.slow  # over a second: real time
def test_concurrent_pdf_downloads_never_overlap_and_keep_the_gap(arxiv_server: FakeArxiv) -> None:
    """The summary threads share one client: one request at a time, each starting the
    interval after the previous one ended (arXiv's terms; 0.3 s here, real time)."""
    for n in range(4):
        pdf = Reply(200, b"%PDF-1.4 ...", {"Content-Type": "application/pdf"}, delay_s=0.2)
        arxiv_server.files[f"/pdf/2411.{n}v1"] = pdf
    with ArxivClient(settings_for(arxiv_server, interval=0.3)) as client:
        threads = [
            threading.Thread(target=client.get, args=(f"{arxiv_server.server.url}/pdf/2411.{n}v1",)) for n in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    spans = sorted(arxiv_server.server.spans)
    assert len(spans) == 4
    for (_, ended), (started, _) in itertools.pairwise(spans):
        assert started - ended >= 0.29  # no overlap, and the gap counted from the end


def test_a_timeout_is_retried_then_reported(arxiv_server: FakeArxiv, clock: FakeClock) -> None:
    arxiv_server.queue(*[Reply(200, b"late", delay_s=0.5)] * 3)
    with (
        ArxivClient(settings_for(arxiv_server, timeout=0.1), clock=clock, sleep=clock.sleep) as client,
        pytest.raises(FetchError, match="ReadTimeout"),
    ):
        client.get(arxiv_server.rss_base + "/cs.AI")
    # The client gives up on the third attempt after 0.1 s; under load the server may read
    # that request a moment later, so its count is polled, not read once.
    wait_until(lambda: len(arxiv_server.requests) == 3, "the server to see three attempts")
    assert len(arxiv_server.requests) == 3


@pytest.mark.slow
def test_a_trickling_upstream_is_cut_at_the_total_deadline(arxiv_server: FakeArxiv, clock: FakeClock) -> None:
    """httpx times out per read: 10 bytes every 0.1 s never trips a 1 s read timeout."""
    arxiv_server.queue(*[Reply(200, b"x" * 100_000, trickle_s=0.1)] * 3)
    started = time.monotonic()
    with (
        ArxivClient(settings_for(arxiv_server, timeout=1.0), clock=clock, sleep=clock.sleep) as client,
        pytest.raises(FetchError, match="ReadTimeout"),
    ):
        client.get(arxiv_server.rss_base + "/cs.AI")
    assert time.monotonic() - started < 3 * 1.0 + 2.0  # three attempts of about a second each


def test_connection_refused_is_a_fetch_error(clock: FakeClock) -> None:
    settings = Settings(arxiv_rss_base="http://127.0.0.1:9/rss", arxiv_min_interval_s=0)
    with (
        ArxivClient(settings, clock=clock, sleep=clock.sleep) as client,
        pytest.raises(FetchError, match="ConnectError"),
    ):
        client.get("http://127.0.0.1:9/rss/cs.AI")


def gzip_bomb(decompressed: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    block = b" " * 1_000_000
    return b"".join(packer.compress(block) for _ in range(decompressed // len(block))) + packer.flush()


@pytest.mark.slow
def test_a_gzip_bomb_is_refused_without_inflating_it(arxiv_server: FakeArxiv, client: ArxivClient) -> None:
    bomb = gzip_bomb(300_000_000)
    assert len(bomb) < 400_000
    arxiv_server.queue(Reply(200, bomb, {"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}))
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="over the 40,000,000-byte cap"):
            client.get(arxiv_server.rss_base + "/cs.AI", max_bytes=40_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20, f"peak {peak / 2**20:.0f} MiB"  # the 40 MB cap, and its copy
    assert len(arxiv_server.requests) == 1  # a size cap is not retried


def test_gzip_is_asked_for_and_inflated(arxiv_server: FakeArxiv, client: ArxivClient) -> None:
    feed = read(COMBINED)
    packed = gzip.compress(feed)
    arxiv_server.queue(Reply(200, packed, {"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}))
    assert client.get(arxiv_server.rss_base + "/cs.AI").body == feed
    assert arxiv_server.requests[0].headers["accept-encoding"] == "gzip"


def test_a_declared_oversized_body_is_refused_unread(arxiv_server: FakeArxiv, client: ArxivClient) -> None:
    arxiv_server.queue(Reply(200, b"x" * 20_000, {"Content-Type": "application/pdf"}))
    with pytest.raises(FetchError, match="20,000 bytes, over the 10,000-byte cap"):
        client.get(arxiv_server.server.url + "/pdf/2411.1v1", max_bytes=10_000)


def test_redirects_are_followed_only_within_arxivs_hosts(arxiv_server: FakeArxiv, client: ArxivClient) -> None:
    elsewhere: list[Request] = []
    other = LoopbackServer(lambda r: elsewhere.append(r) or Reply(200, b"secret"))  # type: ignore[func-returns-value]
    with other:
        arxiv_server.files["/pdf/moved"] = Reply(301, headers={"Location": "/rss/cs.AI"})
        arxiv_server.files["/pdf/away"] = Reply(302, headers={"Location": other.url + "/x"})
        assert client.get(arxiv_server.server.url + "/pdf/moved").body == read(COMBINED)
        with pytest.raises(FetchError, match="outside arXiv's configured hosts"):
            client.get(arxiv_server.server.url + "/pdf/away")
    assert elsewhere == []


def test_no_request_starts_past_the_runs_deadline(arxiv_server: FakeArxiv, clock: FakeClock) -> None:
    settings = settings_for(arxiv_server)
    client = ArxivClient(settings, deadline=clock() - 1, clock=clock, sleep=clock.sleep)
    with client, pytest.raises(FetchError, match="no time left"):
        client.get(arxiv_server.rss_base + "/cs.AI")
    assert arxiv_server.requests == []

"""core.zotero.client: Zotero's headers, paging links, Backoff and Retry-After, refusals (loopback Zotero)."""

from __future__ import annotations

import gzip

import pytest

from core.errors import ZoteroError
from core.zotero.client import ZoteroClient
from tests.arxiv.test_client import gzip_bomb
from tests.loopback import LoopbackServer, Reply
from tests.zotero.conftest import KEY, USER, Clock
from tests.zotero_fake import FakeZotero


def client_for(fake: FakeZotero, clock: Clock, key: str | None = KEY, deadline: float | None = None) -> ZoteroClient:
    return ZoteroClient(fake.server.url, key, deadline=deadline, clock=clock, sleep=clock.sleep)


def test_every_request_names_the_api_version_and_the_key(zotero: FakeZotero, clock: Clock) -> None:
    zotero.add(USER, title="A")
    with client_for(zotero, clock) as client:
        answer = client.get(f"{USER}/items", {"format": "json"})
    sent = zotero.requests[-1].headers
    assert sent["zotero-api-version"] == "3"
    assert sent["zotero-api-key"] == KEY
    assert "arxiv-rss-bot" in sent["user-agent"]
    assert answer.status == 200
    assert answer.version == 2
    assert answer.total == 1
    assert len(answer.body) == 1


def test_no_key_header_without_a_key(zotero: FakeZotero, clock: Clock) -> None:
    zotero.library("groups/99", public=True)
    zotero.add("groups/99", title="Open")
    with client_for(zotero, clock, key=None) as client:
        assert client.get("groups/99/items").total == 1
    assert "zotero-api-key" not in zotero.requests[-1].headers


def test_if_modified_since_version_gives_a_304(zotero: FakeZotero, clock: Clock) -> None:
    zotero.add(USER, title="A")
    with client_for(zotero, clock) as client:
        assert client.get(f"{USER}/items", since=2).unchanged
        assert zotero.requests[-1].headers["if-modified-since-version"] == "2"
        assert not client.get(f"{USER}/items", since=1).unchanged


def test_pages_follow_the_link_header(zotero: FakeZotero, clock: Clock) -> None:
    for n in range(230):
        zotero.add(USER, title=f"Paper {n}")
    keys: list[str] = []
    with client_for(zotero, clock) as client:
        answer = client.get(f"{USER}/items", {"limit": "100"})
        keys += [i["key"] for i in answer.body]
        while answer.next:
            answer = client.get(answer.next)
            keys += [i["key"] for i in answer.body]
    assert len(keys) == len(set(keys)) == 230
    assert len(zotero.requests) == 3


def test_backoff_is_waited_before_the_next_request(zotero: FakeZotero, clock: Clock) -> None:
    zotero.backoff = 5
    with client_for(zotero, clock) as client:
        client.get(f"{USER}/items")
        assert clock.slept == []  # the answer asks the next request to wait, not this one
        client.get(f"{USER}/items")
    assert clock.slept == [5.0]


def test_a_long_backoff_stops_the_sync_instead_of_sleeping(zotero: FakeZotero, clock: Clock) -> None:
    zotero.backoff = 3600
    with client_for(zotero, clock) as client:
        client.get(f"{USER}/items")
        with pytest.raises(ZoteroError) as raised:
            client.get(f"{USER}/items")
    assert raised.value.wait_s == 3600
    assert clock.slept == []
    assert len(zotero.requests) == 1


def test_a_429_is_asked_again_after_retry_after(zotero: FakeZotero, clock: Clock) -> None:
    zotero.rate_limited.extend([3, 4])
    with client_for(zotero, clock) as client:
        assert client.get(f"{USER}/items").status == 200
    assert clock.slept == [3.0, 4.0]
    assert len(zotero.requests) == 3


def test_a_retry_after_past_the_deadline_is_not_waited(zotero: FakeZotero, clock: Clock) -> None:
    zotero.rate_limited.append(20)
    with client_for(zotero, clock, deadline=clock.now + 10) as client, pytest.raises(ZoteroError) as raised:
        client.get(f"{USER}/items")
    assert raised.value.wait_s == 20
    assert clock.slept == []


@pytest.mark.parametrize(
    ("key", "library", "status", "said"),
    [
        ("not-a-key", USER, 403, "Invalid key"),
        (None, USER, 403, "Forbidden"),
        (KEY, "users/1", 404, "User 1 not found"),
        (KEY, f"{USER}/collections/ZZZZ2345", 404, "Collection not found"),
    ],
)
def test_refusals_raise_with_zoteros_status_and_words(
    zotero: FakeZotero, clock: Clock, key: str | None, library: str, status: int, said: str
) -> None:
    with client_for(zotero, clock, key=key) as client, pytest.raises(ZoteroError) as raised:
        client.get(f"{library}/items")
    assert raised.value.status == status
    assert said in raised.value.message
    assert raised.value.wait_s is None
    assert len(zotero.requests) == 1


def test_server_errors_are_retried_then_reported(clock: Clock) -> None:
    with LoopbackServer(lambda r: Reply(500, b"Internal error")) as server:
        with (
            ZoteroClient(server.url, KEY, clock=clock, sleep=clock.sleep) as client,
            pytest.raises(ZoteroError) as raised,
        ):
            client.get(f"{USER}/items")
        assert len(server.requests) == 3
        assert clock.slept == [1.0, 2.0]
    assert "after 3 attempts" in raised.value.message
    assert raised.value.status is None


def test_a_link_to_another_host_is_not_followed_with_the_key(zotero: FakeZotero, clock: Clock) -> None:
    with client_for(zotero, clock) as client, pytest.raises(ZoteroError, match="outside ZOTERO_API_BASE"):
        client.get("https://elsewhere.example/users/1/items?start=100")
    assert zotero.requests == []


def test_an_answer_that_is_not_json_is_an_error(clock: Clock) -> None:
    reply = Reply(200, b"<html>", {"Content-Type": "application/json", "Last-Modified-Version": "3"})
    with (
        LoopbackServer(lambda r: reply) as server,
        ZoteroClient(server.url, KEY, clock=clock) as client,
        pytest.raises(ZoteroError, match="not JSON"),
    ):
        client.get(f"{USER}/items")


def test_answers_are_read_gzip_within_the_cap_and_a_bomb_is_refused(clock: Clock) -> None:
    """The client asks for gzip and reads it as the arXiv client does (core.download): a page
    inflates, and an answer that inflates past the cap is refused without being inflated whole."""
    page = gzip.compress(b"[]")
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", "Last-Modified-Version": "3"}
    bomb = gzip_bomb(60_000_000)
    answers = iter([Reply(200, page, headers), Reply(200, bomb, headers)])
    with LoopbackServer(lambda r: next(answers)) as server, ZoteroClient(server.url, KEY, clock=clock) as client:
        assert client.get(f"{USER}/items").body == []
        assert server.requests[0].headers["accept-encoding"] == "gzip"
        with pytest.raises(ZoteroError, match="over the 20,000,000-byte cap"):
            client.get(f"{USER}/items")

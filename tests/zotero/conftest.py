"""Fixtures for core.zotero: the loopback Zotero, and a clock whose waits pass at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.zotero_fake import FakeZotero

USER = "users/475425"
KEY = "P9NiFoyLeZu2bZNvvuQPDWsd"  # the shape of a Zotero API key (24 characters)


class Clock:
    """A monotonic clock that moves only when the code under test sleeps (and records it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def zotero() -> Iterator[FakeZotero]:
    fake = FakeZotero().start()
    fake.library(USER, key=KEY)
    yield fake
    fake.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()

"""The one way tests wait: poll a condition with a deadline (never a bare sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], what: str, timeout_s: float = 10.0, every_s: float = 0.01) -> T:
    """Poll ``condition`` until it returns something truthy, and return that; fail the test
    with ``what`` (the thing that never happened) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what} within {timeout_s:g} s"
        time.sleep(every_s)  # between polls of something else's progress
    return result


class ManualClock:
    """A clock that moves only when the test moves it (for the code's own waits and ages)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

"""The cap on costly renders at once in one instance.

Filtered and topic feeds (and the page's "More like") match every stored paper when
rendered: CPU work that, under the GIL, slows every other request. One instance renders at
most ``COSTLY_RENDERS`` of them at once; a burst of costly requests queues here (or gets a
503 after ``COSTLY_WAIT_S``) while answers already rendered keep flowing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from core.errors import BusyError

COSTLY_RENDERS = 1
COSTLY_WAIT_S = 10.0


class CostlyRenders:
    def __init__(self, slots: int = COSTLY_RENDERS, wait_s: float = COSTLY_WAIT_S) -> None:
        self.wait_s = wait_s
        self._slots = threading.BoundedSemaphore(slots)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """One of the instance's render slots, held while the block runs; BusyError (503) when
        none frees up within ``wait_s``."""
        if not self._slots.acquire(timeout=self.wait_s):
            raise BusyError(
                "too many filtered feeds are being rendered at once",
                "retry in a few seconds; unfiltered feeds answer now",
            )
        try:
            yield
        finally:
            self._slots.release()

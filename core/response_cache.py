"""Rendered answers kept in memory while the store's contents are unchanged.

Feeds and pages change only when the refresh job saves papers or state, and each save
changes the store's version token (``Store.load_version``, one cheap read). A request whose
URL was answered under the current version gets the same bytes and ETag again without
reading the papers or rendering anything; any save makes every entry stale at once. Entries
are dropped least recently used first beyond ``max_bytes``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime

MAX_BYTES = 32 * 2**20


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str
    last_modified: datetime | None


class ResponseCache:
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[str, Rendered]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()  # sync routes run in a thread pool

    def get(self, key: Hashable, version: str) -> Rendered | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != version:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def get_any(self, key: Hashable) -> Rendered | None:
        """The last answer kept for ``key``, whatever version it was made from."""
        with self._lock:
            entry = self._entries.get(key)
            return entry[1] if entry is not None else None

    def put(self, key: Hashable, version: str, rendered: Rendered) -> None:
        if len(rendered.body) > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= len(old[1].body)
            self._entries[key] = (version, rendered)
            self._size += len(rendered.body)
            while self._size > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._size -= len(dropped.body)

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._entries)

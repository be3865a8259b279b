"""Rendered answers kept in memory while the store's contents are unchanged.

Feeds and pages change only when the refresh job saves papers or state, and each save
changes the store's version token (``Store.load_version``, one cheap read). A request whose
URL was answered under the current version gets the same bytes and ETag again without
reading the papers or rendering anything; any save makes every entry stale at once. An
entry is kept gzip-compressed, as most readers take it (core.web.http_cache): a fifth of the
memory, so eight filtered feeds kept cost about one (bench/concurrent_memory.py). Entries
are dropped least recently used first beyond ``max_bytes``, which counts what an entry costs
in all: its compressed body, and a fixed share for its key and bookkeeping. An entry is kept under a
digest of its key, not the key itself: a URL padded with kilobytes of junk parameters costs
no more than a short one (8,000 such URLs once held 58 MB the byte bound never saw).

The version itself is read at most once a second per instance (``VersionCheck``): a burst of
requests costs one store read, and a save shows within that second. Concurrent misses of one
URL render it once: the others wait for that rendering (``ResponseCache.get_or_render``).
"""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from core.web.http_cache import etag_of

MAX_BYTES = 32 * 2**20
# zlib's default: a 260 KB feed shrinks to about a fifth in a few milliseconds, once per store
# version (9 saves little more and takes several times longer).
GZIP_LEVEL = 6
GZIP_WBITS = 31  # zlib's gzip container (RFC 1952)
VERSION_MAX_AGE_S = 1.0
RENDER_LOCKS = 64  # misses of one URL share a lock; different URLs rarely do
# What an entry costs besides its body: the key's digest, the entry and its ETag, the ordered
# dict's node: about 230 bytes measured with tracemalloc; twice that, for safety.
ENTRY_BYTES = 512


@dataclass(frozen=True)
class Rendered:
    """An answer's bytes, gzip-compressed, with their validators, and the store version of the
    data they were made from (which an entry is kept under: a save racing the render is never
    masked). ``etag`` is the uncompressed bytes' (core.web.http_cache: each form has its own)."""

    gzipped: bytes
    etag: str
    last_modified: datetime | None
    version: str

    @classmethod
    def of(cls, body: bytes, last_modified: datetime | None, version: str) -> Rendered:
        # zlib's gzip form (wbits 31) writes no timestamp: the same bytes, the same gzip bytes, on
        # every instance (and the gzip module, a cold start's import, is not needed).
        return cls(zlib.compress(body, GZIP_LEVEL, wbits=GZIP_WBITS), etag_of(body), last_modified, version)

    def body(self) -> bytes:
        """The answer's bytes, uncompressed (for the rare client that does not take gzip)."""
        return zlib.decompress(self.gzipped, wbits=GZIP_WBITS)


class ResponseCache:
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[bytes, Rendered] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()  # sync routes run in a thread pool
        self._rendering = [threading.Lock() for _ in range(RENDER_LOCKS)]

    def get(self, key: Hashable, version: str) -> Rendered | None:
        name = _digest(key)
        with self._lock:
            entry = self._entries.get(name)
            if entry is None or entry.version != version:
                return None
            self._entries.move_to_end(name)
            return entry

    def get_or_render(self, key: Hashable, version: str, render: Callable[[], Rendered]) -> Rendered:
        """The entry for ``key`` under ``version``, or ``render()``'s, made once however many
        requests miss at the same time."""
        found = self.get(key, version)
        if found is not None:
            return found
        with self._rendering[hash(key) % RENDER_LOCKS]:
            found = self.get(key, version)  # another request may have rendered it meanwhile
            if found is not None:
                return found
            rendered = render()
            self.put(key, rendered)
            return rendered

    def get_any(self, key: Hashable) -> Rendered | None:
        """The last answer kept for ``key``, whatever version it was made from."""
        with self._lock:
            return self._entries.get(_digest(key))

    def put(self, key: Hashable, rendered: Rendered) -> None:
        if cost(rendered) > self.max_bytes:
            return
        name = _digest(key)
        with self._lock:
            old = self._entries.pop(name, None)
            if old is not None:
                self._size -= cost(old)
            self._entries[name] = rendered
            self._size += cost(rendered)
            while self._size > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._size -= cost(dropped)

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._entries)


def cost(rendered: Rendered) -> int:
    """The bytes an entry is counted for: its compressed body and ``ENTRY_BYTES``."""
    return len(rendered.gzipped) + ENTRY_BYTES


def _digest(key: Hashable) -> bytes:
    """What an entry is kept under: 16 bytes however long its URL (``repr`` of a key made of
    strings, dates and None is the same for equal keys)."""
    return hashlib.blake2b(repr(key).encode(), digest_size=16).digest()


class VersionCheck:
    """The store's version, read at most once every ``max_age_s`` per instance."""

    def __init__(self, max_age_s: float = VERSION_MAX_AGE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self.clock = clock
        self._version: str | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def current(self, load: Callable[[], str]) -> str:
        with self._lock:
            if (version := self._fresh()) is None:
                version = self._version = load()
                self._read_at = self.clock()
            return version

    def fresh(self) -> str | None:
        """The version if it was read less than ``max_age_s`` ago (no store read), else None."""
        with self._lock:
            return self._fresh()

    def _fresh(self) -> str | None:
        if self._version is None or self.clock() - self._read_at >= self.max_age_s:
            return None
        return self._version

    def forget(self) -> None:
        """This instance just wrote to the store (a cron job): read the version again."""
        with self._lock:
            self._version = None

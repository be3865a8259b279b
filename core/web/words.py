"""The store's word index as a filtered feed reads it (core.selection.indexed.Reader), and
what this instance remembers of it.

A segment never changes once written (its name is the save that wrote it), so what is read of
one is kept across store versions: each token's postings (decoded, as arrays of ordinals,
bounded) and the members' names (of the live segments only). A save adds a segment (or
merges some into one): the next filtered request reads that segment's postings of its words
and no other segment's again. The keys of a head's tokens are kept per head (``Remembered``,
like the postings).
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from datetime import datetime
from typing import Generic, TypeVar

from core.models import Entry, Paper
from core.selection.indexed import Placed
from core.store import Store
from core.store.words import WordsHead
from core.text.words import decode

# Postings kept, in ordinals (4 bytes each): the most used words of a large store.
REMEMBERED_ORDINALS = 4_000_000
REMEMBERED_KEYS = 1_000_000  # keys (about 60 bytes each in a set) of the head's tokens asked most recently
_SHIFT = 32  # a key is the segment's place in the head, shifted, plus the ordinal


K = TypeVar("K")
V = TypeVar("V", bound=Sized)


class Remembered(Generic[K, V]):
    """Values kept by key, at most ``remember`` items in all (their lengths summed; one value
    alone may pass it), the least recently asked dropped first. Thread-safe."""

    def __init__(self, remember: int) -> None:
        self.remember = remember
        self.size = 0
        self._kept: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    def known(self, keys: Iterable[K]) -> dict[K, V]:
        with self._lock:
            found = {k: self._kept[k] for k in keys if k in self._kept}
            for key in found:
                self._kept.move_to_end(key)
            return found

    def keep(self, values: Mapping[K, V]) -> None:
        with self._lock:
            for key, value in values.items():
                if key not in self._kept:
                    self._kept[key] = value
                    self.size += len(value)
            while self.size > self.remember and len(self._kept) > 1:
                self.size -= len(self._kept.popitem(last=False)[1])

    def forget(self, gone: Callable[[K], bool]) -> None:
        with self._lock:
            for key in [k for k in self._kept if gone(k)]:
                self.size -= len(self._kept.pop(key))


class SegmentCache:
    """Postings and members of segments read so far, by segment (least recently used go first)."""

    def __init__(self, remember: int = REMEMBERED_ORDINALS) -> None:
        self.kept: Remembered[tuple[str, str], array[int]] = Remembered(remember)
        self._members: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def postings(self, store: Store, head: WordsHead, tokens: Sequence[str]) -> dict[tuple[str, str], array[int]]:
        """The ordinals of each token in each of the head's segments (empty where none)."""
        wanted = [(s, t) for s in head.segments for t in tokens]
        known = self.kept.known(wanted)
        if missing := [k for k in wanted if k not in known]:
            tokens_missing = sorted({t for _, t in missing})
            segments = sorted({s for s, _ in missing})
            read = store.load_postings(_only(head, segments), tokens_missing)
            made = {k: array("I", decode(read[k]) if k in read else ()) for k in missing}
            self.kept.keep(made)
            known |= made
        return known

    def members(self, store: Store, segments: Sequence[str]) -> dict[str, tuple[str, ...]]:
        with self._lock:
            known = {s: self._members[s] for s in segments if s in self._members}
        if missing := [s for s in segments if s not in known]:
            read = store.load_members(missing)
            with self._lock:
                self._members.update(read)
            known |= read
        return known

    def forget_others(self, head: WordsHead) -> None:
        """Drop what is kept of segments the store no longer has."""
        with self._lock:
            for segment in [s for s in self._members if s not in head.segments]:
                del self._members[segment]
        self.kept.forget(lambda key: key[0] not in head.segments)


def _only(head: WordsHead, segments: Sequence[str]) -> WordsHead:
    return WordsHead(head.covers, {s: head.segments[s] for s in segments}, head.count, head.shards)


def _key_sets() -> Remembered[str, set[int]]:
    """Each token's keys at one head (its postings over every segment, the dead left out), the
    most recently asked kept: a topic's categories are the same tokens request after request."""
    return Remembered(REMEMBERED_KEYS)


class WordIndex:
    """This instance's view of the word index: the head of the store version last read, the
    segments' cache, and the keys of that head's tokens."""

    def __init__(self) -> None:
        self.segments = SegmentCache()
        self._head: tuple[str, WordsHead, Remembered[str, set[int]]] | None = None
        self._lock = threading.Lock()

    def reader(self, store: Store, version: str) -> WordReader | None:
        """A reader of the index at the store's ``version``; None when the index does not cover
        the stored papers whole (a store from before it, not yet indexed by a refresh)."""
        with self._lock:
            if self._head is None or self._head[0] != version:
                head = store.load_words()
                if self._head is None or self._head[1] != head:
                    self._head = (version, head, _key_sets())
                    self.segments.forget_others(head)
                else:  # another save of the state only: the same index
                    self._head = (version, head, self._head[2])
            _, head, keys = self._head
        return WordReader(store, head, self.segments, keys) if head.covers else None


class WordReader:
    """``core.selection.indexed.Reader`` over one head of the store's word index."""

    def __init__(self, store: Store, head: WordsHead, cache: SegmentCache, keys: Remembered[str, set[int]]) -> None:
        self.store = store
        self.head = head
        self.cache = cache
        self.keys = keys
        self._order = list(head.segments)
        self._newest = [datetime.fromisoformat(n) if (n := head.newest.get(s)) else None for s in self._order]
        # Members no longer stored (an older version of a paper, or one gone): never candidates.
        self._dead = {p << _SHIFT | o for p, s in enumerate(self._order) for o in decode(head.dead.get(s, ""))}

    @property
    def categories(self) -> Sequence[str]:
        return self.head.categories

    @property
    def count(self) -> int:
        """How many paper versions are stored."""
        return self.head.count

    def postings(self, tokens: Sequence[str]) -> dict[str, set[int]]:
        known = self.keys.known(tokens)
        if missing := [t for t in tokens if t not in known]:
            made = self._keys(missing)
            self.keys.keep(made)
            known |= made
        return known

    def holding_any(self, tokens: Sequence[str]) -> set[int]:
        name = "|".join(sorted(tokens))  # no token holds "|": remembered beside the tokens
        if (known := self.keys.known([name]).get(name)) is None:
            known = set().union(*self.postings(tokens).values())
            self.keys.keep({name: known})
        return known

    def _keys(self, tokens: Sequence[str]) -> dict[str, set[int]]:
        found = self.cache.postings(self.store, self.head, tokens)
        keys: dict[str, set[int]] = {t: set() for t in tokens}
        for place, segment in enumerate(self._order):
            base = place << _SHIFT
            for token in tokens:
                if ordinals := found[(segment, token)]:
                    keys[token].update([base + o for o in ordinals])
        if self._dead:
            for token in tokens:
                keys[token] -= self._dead
        return keys

    def names(self, keys: Iterable[int]) -> dict[int, str]:
        wanted = list(keys)
        places = {k >> _SHIFT for k in wanted}
        members = self.cache.members(self.store, [self._order[p] for p in places])
        mask = (1 << _SHIFT) - 1
        named = {}
        for key in wanted:
            listed = members.get(self._order[key >> _SHIFT])
            if listed is not None and (key & mask) < len(listed):
                named[key] = listed[key & mask]
        return named

    def placed(self, keys: Iterable[int]) -> list[Placed]:
        return [Placed(k, k >> _SHIFT, self._newest[k >> _SHIFT]) for k in keys]

    def entries(self, names: Sequence[str]) -> dict[str, Entry]:
        return self.store.load_entries(names)

    def papers(self, names: Sequence[str]) -> dict[str, Paper]:
        return self.store.load_named(names)

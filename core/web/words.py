"""The store's word index as a filtered feed reads it (core.selection.indexed.Reader), and
what this instance remembers of it.

A segment never changes once written (its name is the save that wrote it), so what is read of
one is kept across store versions: each token's postings (decoded, as arrays of ordinals) and
the members' names, both bounded. A refresh adds one segment; the next filtered request reads
the new segment's postings of its words and nothing else again.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from core.models import Entry, Paper
from core.store import Store
from core.store.words import WordsHead
from core.text.words import decode

# Postings kept, in ordinals (4 bytes each): the most used words of a large store.
REMEMBERED_ORDINALS = 4_000_000
_SHIFT = 32  # a key is the segment's place in the head, shifted, plus the ordinal


class SegmentCache:
    """Postings and members of segments read so far, by segment (least recently used go first)."""

    def __init__(self, remember: int = REMEMBERED_ORDINALS) -> None:
        self.remember = remember
        self._postings: OrderedDict[tuple[str, str], array[int]] = OrderedDict()
        self._members: dict[str, tuple[str, ...]] = {}
        self._size = 0
        self._lock = threading.Lock()

    def postings(self, store: Store, head: WordsHead, tokens: Sequence[str]) -> dict[tuple[str, str], array[int]]:
        """The ordinals of each token in each of the head's segments (empty where none)."""
        wanted = [(s, t) for s in head.segments for t in tokens]
        with self._lock:
            known = {k: self._touch(k) for k in wanted if k in self._postings}
        if missing := [k for k in wanted if k not in known]:
            tokens_missing = sorted({t for _, t in missing})
            segments = sorted({s for s, _ in missing})
            read = store.load_postings(_only(head, segments), tokens_missing)
            made = {k: array("I", decode(read[k]) if k in read else ()) for k in missing}
            with self._lock:
                for key, ordinals in made.items():
                    self._keep(key, ordinals)
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
            for key in [k for k in self._postings if k[0] not in head.segments]:
                self._size -= len(self._postings.pop(key))

    def _touch(self, key: tuple[str, str]) -> array[int]:
        self._postings.move_to_end(key)
        return self._postings[key]

    def _keep(self, key: tuple[str, str], ordinals: array[int]) -> None:
        if key in self._postings:
            return
        self._postings[key] = ordinals
        self._size += len(ordinals)
        while self._size > self.remember and len(self._postings) > 1:
            self._size -= len(self._postings.popitem(last=False)[1])


def _only(head: WordsHead, segments: Sequence[str]) -> WordsHead:
    return WordsHead(head.covers, {s: head.segments[s] for s in segments}, head.count, head.shards)


class WordIndex:
    """This instance's view of the word index: the head of the store version last read, and
    the segments' cache."""

    def __init__(self) -> None:
        self.segments = SegmentCache()
        self._head: tuple[str, WordsHead] | None = None
        self._lock = threading.Lock()

    def reader(self, store: Store, version: str) -> WordReader | None:
        """A reader of the index at the store's ``version``; None when the index does not cover
        the stored papers whole (a store from before it, not yet indexed by a refresh)."""
        with self._lock:
            if self._head is None or self._head[0] != version:
                self._head = (version, store.load_words())
                self.segments.forget_others(self._head[1])
            head = self._head[1]
        return WordReader(store, head, self.segments) if head.covers else None


class WordReader:
    """``core.selection.indexed.Reader`` over one head of the store's word index."""

    def __init__(self, store: Store, head: WordsHead, cache: SegmentCache) -> None:
        self.store = store
        self.head = head
        self.cache = cache
        self._order = list(head.segments)
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

    def entries(self, names: Sequence[str]) -> dict[str, Entry]:
        return self.store.load_entries(names)

    def papers(self, names: Sequence[str]) -> dict[str, Paper]:
        return self.store.load_named(names)

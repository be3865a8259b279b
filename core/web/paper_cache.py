"""Every stored paper, kept in memory per store version, for feeds that filter them.

A filtered feed (``?q=``, ``?keywords=``, a topic) may keep any stored paper, so it must look
at all of them; reading them all from the store on every such request would cost a whole
list per render (1-3 MB on Upstash, whose free tier counts bandwidth). Instead each instance
reads them once per store version and reuses them until the refresh job saves again: a
request then costs only the version check that every request makes. Concurrent misses wait for the one read in progress.
"""

from __future__ import annotations

import threading

from core.models import Paper, RefreshState
from core.store import Store
from core.text.matching import TextIndex
from core.text.similarity import Index


class PaperCache:
    def __init__(self) -> None:
        self._version: str | None = None
        self._state = RefreshState()
        self._papers: list[Paper] = []
        self._lock = threading.Lock()
        self.reads = 0  # whole-list reads from the store (for tests and benchmarks)
        self._index: tuple[str, Index, list[Paper]] | None = None
        self._text: tuple[str, TextIndex] | None = None

    def load(self, store: Store, version: str) -> tuple[RefreshState, list[Paper], str]:
        """The refresh state, every stored paper (best first) and their version; ``version``
        is the store's version as just read (``Store.load_version``)."""
        with self._lock:
            if version != self._version:
                self._state, self._papers, self._version = store.load_feed(None, None)
                self.reads += 1
            return self._state, self._papers, self._version

    def liked_and_index(self, store: Store, version: str) -> tuple[list[Paper], Index]:
        """The liked papers the last refresh resolved, and the similarity index of every stored
        and liked paper: both once per store version (for the for-you feeds and ``?like=``)."""
        state, papers, version = self.load(store, version)
        with self._lock:
            if self._index is None or self._index[0] != version:
                found = store.load_liked(state.likes.ids)
                liked = [found[i] for i in state.likes.ids if i in found]
                self._index = (version, Index.build([*papers, *liked]), liked)
            return self._index[2], self._index[1]

    def text_index(self, store: Store, version: str) -> TextIndex:
        """The words of every stored paper (core.text.matching.TextIndex), once per store version."""
        _, papers, version = self.load(store, version)
        with self._lock:
            if self._text is None or self._text[0] != version:
                self._text = (version, TextIndex.build(papers))
            return self._text[1]

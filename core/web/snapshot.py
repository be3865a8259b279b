"""One store version's papers, read once and shared by every render of that version.

A filtered feed (``?q=``, ``?keywords=``, a topic) may keep any stored paper, so it must look
at all of them; reading them all from the store on every such request would cost a whole
list per render (1-3 MB on Upstash, whose free tier counts bandwidth). Instead each instance
reads them once per store version (``PaperCache``) and reuses them until the refresh job saves
again: a request then costs only the version check that every request makes. Concurrent
misses wait for the one read in progress.

A render takes one ``Snapshot`` and asks it for what it needs; the indexes over its papers
(the words for matching, the liked papers for similarity) are built at first use, once per
version, since the snapshot is shared.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.models import Feedback, Paper, RefreshState
from core.selection.feedback import disliked_papers, liked_papers
from core.selection.select import Likeness
from core.settings import Settings
from core.store import Store
from core.text.matching import TextIndex
from core.text.rocchio import similar_despite
from core.text.similarity import Index

T = TypeVar("T")


@dataclass(frozen=True)
class Liked:
    """The papers a request likes, and how like them any paper is."""

    papers: list[Paper]
    likeness: Likeness


class Snapshot:
    """The refresh state, every stored paper (best first) and the version they were read at."""

    def __init__(self, store: Store, state: RefreshState, papers: list[Paper], version: str) -> None:
        self.store = store
        self.state = state
        self.papers = papers
        self.version = version
        self._text = _Once(lambda: TextIndex.build(self.papers))
        # The liked papers the last refresh resolved, and the similarity index of every stored
        # and liked paper (for the for-you feeds and ``?like=``).
        self._configured = _Once(self._load_configured)
        self._similarity = _Once(lambda: Index.build([*self.papers, *self._configured.get()]))
        self._feedback = _Once(store.load_feedback)  # its version is in this snapshot's version

    @property
    def text_index(self) -> TextIndex:
        """The words of every stored paper (core.text.matching.TextIndex)."""
        return self._text.get()

    def liked(self, ids: Sequence[str], settings: Settings, followed: list[str]) -> Liked:
        """The papers of ``ids`` and the likeness to them: the configured liked papers are
        found here; others in the store, or asked of the arXiv API once."""
        configured = self._configured.get()
        if self.state.likes.model == "embeddings" and list(ids) == self.state.likes.ids:  # ranked by the refresh
            return Liked(configured, lambda paper: paper.for_you)
        known = {p.id: p for p in configured}
        if all(i in known for i in ids):
            papers = [known[i] for i in ids]
        else:
            from core.refresh import likes  # httpx and the arXiv client: only when a ?like= names other papers

            papers = likes.for_request(ids, self.papers, self.store, settings, followed)
        index = self._similarity.get()
        liked = index.liked(papers)
        return Liked(papers, lambda paper: index.similar(paper, liked))

    @property
    def feedback(self) -> Feedback:
        """The opinions given from the feeds' "Like" and "Not for me" links."""
        return self._feedback.get()

    def for_you(self, settings: Settings, followed: list[str]) -> Liked:
        """The for-you feed's liked papers and likeness: config.json's (and its BibTeX file's)
        and those liked from the feeds, less a share of the likeness to those marked "Not for
        me" (core.text.rocchio). Feedback is ranked by the lexical model, whatever ranks the rest."""
        feedback, ids = self.feedback, tuple(self.state.likes.ids)
        if not feedback.opinions:
            return self.liked(ids, settings, followed)
        configured = self.liked(ids, settings, followed).papers if ids else []
        papers = liked_papers(configured, feedback)
        index = self._similarity.get()
        liked, disliked = index.liked(papers), index.liked(disliked_papers(feedback))
        return Liked(papers, lambda paper: similar_despite(index, paper, liked, disliked))

    def _load_configured(self) -> list[Paper]:
        found = self.store.load_liked(self.state.likes.ids)
        return [found[i] for i in self.state.likes.ids if i in found]


class PaperCache:
    """The snapshot of the store's latest version this instance has read."""

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self.reads = 0  # whole-list reads from the store (for tests and benchmarks)

    def load(self, store: Store, version: str) -> Snapshot:
        """Every stored paper at ``version``, the store's version as just read
        (``Store.load_version``): read from the store only when that version is new here."""
        with self._lock:
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = Snapshot(store, *store.load_feed(None, None))
                self.reads += 1
            return self._snapshot


class _Once(Generic[T]):
    """A value built at its first use, once, however many threads ask for it at the same time."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: tuple[T] | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._built is None:
                self._built = (self._build(),)
            return self._built[0]

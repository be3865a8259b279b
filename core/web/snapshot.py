"""One store version's papers, read once and shared by every render of that version.

A feed the store's word index cannot narrow (``core.web.words``: a filter on the stored scores
alone, ``?like=``, the for-you feeds, the index page, a store not indexed yet) may keep any
stored paper, so it must look at all of them; reading them all from the store on every such
request would cost a whole list per render (1-3 MB on Upstash, whose free tier counts
bandwidth). Instead each instance reads them once per store version (``PaperCache``) and
reuses them until the refresh job saves again: a request then costs only the version check
that every request makes. Concurrent misses wait for the one read in progress.

A render takes one ``Snapshot`` and asks it for what it needs; the indexes over its papers
(the words for matching, the liked papers for similarity) are built at first use, once per
version, since the snapshot is shared; so is the store's liked set (``LikedSet``), which lives
apart from the state that every version check reads. A ``?like=`` never asks arXiv: an id
found nowhere is left out with a note, and written down for the next refresh to fetch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from core.errors import StoreError
from core.models import Feedback, Paper, RefreshState
from core.selection.feedback import disliked_papers, liked_papers
from core.selection.select import Likeness
from core.store import Store
from core.store.records import unscanned
from core.text.matching import TextIndex
from core.text.rocchio import similar_despite
from core.text.similarity import Index

T = TypeVar("T")
log = logging.getLogger(__name__)


# Ids readers' ?like= named that are not stored, remembered for the next refresh to fetch:
# the newest this many (a reader cannot make the refresh fetch more than that).
PENDING_CAP = 100


@dataclass(frozen=True)
class Liked:
    """The papers a request likes, how like them any paper is, and what was left out."""

    papers: list[Paper]
    likeness: Likeness
    notes: list[str] = field(default_factory=list)  # ids left out, and why


class Snapshot:
    """The refresh state, every stored paper (best first) and the version they were read at."""

    def __init__(self, store: Store, state: RefreshState, papers: list[Paper], version: str) -> None:
        self.store = store
        self.state = state
        self.papers = papers
        self.version = version
        self._text = _Once(lambda: TextIndex.build(self.papers))
        # The liked papers the last refresh kept, and the similarity index of every stored and
        # liked paper (for the for-you feeds and ``?like=``).
        self._liked_set = _Once(store.load_liked_set)
        self._configured = _Once(self._load_configured)
        self._similarity = _Once(lambda: Index.build([*self.papers, *self._configured.get()]))
        self._feedback = _Once(store.load_feedback)  # its version is in this snapshot's version

    @property
    def text_index(self) -> TextIndex:
        """The words of every stored paper (core.text.matching.TextIndex)."""
        return self._text.get()

    @property
    def liked_ids(self) -> tuple[str, ...]:
        """The ids of config.json's liked papers (and the BibTeX file's) that the refresh found."""
        return tuple(self._liked_set.get().ids)

    def liked(self, ids: Sequence[str]) -> Liked:
        """The papers of ``ids`` and the likeness to them: the configured liked papers, stored
        papers, and those the refresh fetched for readers. Never asks arXiv: an id found
        nowhere is left out, with a note (and remembered for the next refresh to fetch, unless
        arXiv has no such paper)."""
        kept = self._liked_set.get()
        configured = self._configured.get()
        if self.state.likes.model == "embeddings" and list(ids) == kept.ids:  # ranked by the refresh
            return Liked(configured, lambda paper: paper.for_you)
        known = {p.id: p for p in configured}
        if wanted := {i for i in ids if i not in known}:
            known |= {p.id: p for p in self.papers if p.id in wanted}
        if rest := [i for i in ids if i not in known]:
            known |= self.store.load_liked(rest)
        absent = [i for i in ids if i not in known]
        unknown = [i for i in absent if i in kept.missing]
        pending = [i for i in absent if i not in kept.missing]
        if pending:
            self._remember(pending)
        notes = [f"{i} is not stored yet; the next refresh fetches it" for i in pending]
        notes += [f"arXiv has no paper {i}; it is left out" for i in unknown]
        papers = [known[i] for i in ids if i in known]
        index = self._similarity.get()
        liked = index.liked(papers)
        return Liked(papers, lambda paper: index.similar(paper, liked), notes)

    def _remember(self, ids: list[str]) -> None:
        try:
            self.store.add_pending_likes(ids, PENDING_CAP)
        except StoreError as exc:  # the feed is served all the same; the id is asked again next time
            log.warning("likes: could not remember %s for the next refresh: %s", ", ".join(ids), exc)

    @property
    def feedback(self) -> Feedback:
        """The opinions given from the feeds' "Like" and "Not for me" links."""
        return self._feedback.get()

    def for_you(self) -> Liked:
        """The for-you feed's liked papers and likeness: the liked set's (config.json's, the
        BibTeX file's, Zotero's) and those liked from the feeds, less a share of the likeness
        to those marked "Not for me" (core.text.rocchio). Feedback is ranked by the lexical
        model, whatever ranks the rest."""
        feedback, ids = self.feedback, self.liked_ids
        if not feedback.opinions:
            return self.liked(ids) if ids else Liked([], lambda paper: None)
        configured = self.liked(ids) if ids else Liked([], lambda paper: None)
        papers = liked_papers(configured.papers, feedback)
        index = self._similarity.get()
        liked, disliked = index.liked(papers), index.liked(disliked_papers(feedback))
        return Liked(papers, lambda paper: similar_despite(index, paper, liked, disliked), configured.notes)

    def left_out(self, liked: Liked) -> tuple[str, ...]:
        """What the for-you feed never lists: the liked papers and those marked "Not for me"."""
        return (*self.liked_ids, *(p.id for p in liked.papers), *(o.id for o in self.feedback.of("dislike")))

    def _load_configured(self) -> list[Paper]:
        ids = self._liked_set.get().ids
        found = self.store.load_liked(ids)
        return [found[i] for i in ids if i in found]


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
                self._snapshot = None  # the old version's papers go first
                self._snapshot = unscanned(lambda: Snapshot(store, *store.load_feed(None, None)))
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

"""The catalog: a refresh's papers, and the only code that knows a stored entry from a whole paper.

A refresh reads the entry of every stored paper (``Store.load_index``: its place in the feeds,
without its text) and reads whole only what it must redo or what a stage needs (``whole``).
Stages hand back the papers they changed (``update``); the catalog keeps each one's entry in
step, so what a later stage decides from entries (``order``) is never stale, and the one save
(``save``) writes only the changed papers whole. Papers entering from arXiv come in through
``add``, which dates them (``clamp_future``) in one place.

The merge and window rules live here too: which version of a paper wins, and which papers the
feeds keep.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from core.models import Entry, Paper, Ranked, RefreshState
from core.store import Store
from core.store.records import stored_names, unscanned

log = logging.getLogger(__name__)

# arXiv dates its items with the announcement day; one a day ahead of our clock is a time
# zone, anything later is wrong and must not move the window (see ``window_start``).
FUTURE_TOLERANCE = timedelta(days=1)


class Catalog:
    """Every paper of a refresh, in stored order once ranked: entries for all, whole papers
    for those read (``read``) or new and changed (``changed``, what the save writes)."""

    def __init__(self, store: Store, entries: Iterable[Entry] = ()) -> None:
        self.store = store
        self.order: list[Entry] = list(entries)
        self.changed: dict[str, Paper] = {}
        self.read: dict[str, Paper] = {}
        # Where each id is in ``order``, made when first asked and again after the order changed:
        # a stage asks for a few hundred papers of 60,000, and looks them up rather than scans.
        self._places: dict[str, int] | None = None

    @classmethod
    def load(cls, store: Store) -> Catalog:
        """The catalog of the stored papers, by their entries (nothing read whole)."""
        return cls(store, unscanned(store.load_index, sweep=True))

    def whole(self, ids: Iterable[str]) -> list[Paper]:
        """The papers of these ids (those in the catalog), read whole once, in catalog order."""
        places = self._placed()
        entries = [self.order[at] for at in sorted({places[i] for i in ids if i in places})]
        unread = [e for e in entries if e.id not in self.changed and e.id not in self.read]
        if unread:
            self.read |= {p.id: p for p in self.store.load_whole(unread)}
        return [p for e in entries if (p := self._current(e.id)) is not None]

    def entries(self, ids: Iterable[str]) -> list[Entry]:
        """The entries of these ids (those in the catalog), in the order asked."""
        places = self._placed()
        return [self.order[places[i]] for i in ids if i in places]

    def redo(self, wanted: Callable[[Entry], bool]) -> list[Paper]:
        """The papers whose entry is ``wanted``, read whole to be merged and matched again; a
        stored paper that cannot be read leaves the catalog (arXiv's data writes it again, or
        it ages out)."""
        ids = [e.id for e in self.order if wanted(e)]
        papers = self.whole(ids)
        unreadable = set(ids) - {p.id for p in papers}
        if unreadable:
            self.keep(lambda e: e.id not in unreadable)
        return papers

    def update(self, papers: Iterable[Paper]) -> None:
        """Take these papers back; those that differ from what the catalog holds are saved,
        and their entries follow them (in their places: the order stays)."""
        changed = {p.id: p for p in papers if p is not self._current(p.id)}
        if changed:
            self.changed |= changed
            places, order = self._placed(), list(self.order)
            for paper_id, paper in changed.items():
                if (at := places.get(paper_id)) is not None:
                    order[at] = Entry.of(paper)
            self.order = order

    def add(self, papers: Iterable[Paper], now: datetime) -> int:
        """Papers from arXiv, new or in place of the catalog's own (by id), dated by
        ``clamp_future``; returns how many came dated in the future."""
        dated, ahead = clamp_future(papers, now)
        self.replace(dated)
        return ahead

    def replace(self, papers: Iterable[Paper]) -> None:
        """These papers in the catalog, as changed: in place of those of the same id, the
        others added at the end (ranking orders them)."""
        fresh = {p.id: p for p in papers}
        if not fresh:
            return
        self.changed |= fresh
        kept = [e for e in self.order if e.id not in fresh]
        self._reordered([*kept, *map(Entry.of, fresh.values())])

    def keep(self, wanted: Callable[[Entry], bool]) -> None:
        """Only the papers whose entry is ``wanted``."""
        self._reordered([e for e in self.order if wanted(e)])
        ids = self._placed()
        self.changed = {i: p for i, p in self.changed.items() if i in ids}
        self.read = {i: p for i, p in self.read.items() if i in ids}

    def held(self) -> list[Paper]:
        """The papers held whole (read or changed), in catalog order."""
        return self.whole(self.changed.keys() | self.read.keys())

    def carried(self) -> list[Entry]:
        """The entries of the papers not held whole: stored, and staying as they are."""
        held = self.changed.keys() | self.read.keys()
        return [e for e in self.order if e.id not in held]

    def reorder(self, entries: Sequence[Entry], papers: Iterable[Paper]) -> None:
        """The catalog ranked: ``entries`` in their new order, and ``papers`` (matched again)
        as the ones to write; a paper held whole but left out of ``entries`` is dropped."""
        self._reordered(list(entries))
        self.changed = {p.id: p for p in papers}

    def save(self) -> list[Entry]:
        """Store the catalog, in order: the changed papers whole, the others by their entry."""
        return self.store.save_catalog(self.order, self.changed)

    def _current(self, paper_id: str) -> Paper | None:
        return self.changed.get(paper_id) or self.read.get(paper_id)

    def _reordered(self, order: list[Entry]) -> None:
        self.order, self._places = order, None

    def _placed(self) -> dict[str, int]:
        if self._places is None:
            self._places = {e.id: at for at, e in enumerate(self.order)}
        return self._places


def clamp_future(papers: Iterable[Paper], now: datetime) -> tuple[list[Paper], int]:
    """Papers dated more than a day after ``now`` get ``now`` as their date; returns how many.

    A wrong date from upstream must neither push the window past every other paper nor keep
    one paper in the feeds for ever."""
    limit, clamped, count = now + FUTURE_TOLERANCE, [], 0
    for paper in papers:
        if paper.announced > limit:
            log.warning("arXiv: %s is dated %s, in the future; dated now instead", paper.id, paper.announced.date())
            paper, count = paper.model_copy(update={"announced": now}), count + 1
        clamped.append(paper)
    return clamped, count


def window_start(papers: Iterable[Ranked], now: datetime, days_back: int) -> datetime:
    """The oldest announcement date the feeds keep, given the (date-clamped) papers known.

    The window is ``days_back`` days before the refresh's clock, so only papers that aged out
    by the clock are dropped. It reaches further back (never less far) when the newest
    announcement known is older than the clock (a deployment off for a while, a weekend after
    it, a test replaying recorded days): the last announced papers stay until newer arrive,
    so a feed is never emptied by time passing alone.
    """
    by_clock = now - timedelta(days=days_back)
    announced = [p.announced for p in papers if not p.backfilled]  # backfilled: dated by submission
    if not announced:
        return by_clock
    return min(by_clock, max(announced) - timedelta(days=days_back))


def merge_papers(stored: Iterable[Paper], fetched: Iterable[Paper]) -> tuple[list[Paper], int, int]:
    """Deduplicate by version-less id: a replacement updates the stored record in place.

    A paper keeps the announce type and date it was first seen with, so a revision does not
    move it out of (or to the top of) a feed; its version, text and metadata are updated.
    """
    papers = {p.id: p for p in stored}
    new = updated = 0
    for paper in fetched:
        known = papers.get(paper.id)
        if known is None:
            papers[paper.id] = paper
            new += 1
        elif known.backfilled:  # the announcement wins: its type and date, the API's metadata kept
            papers[paper.id] = paper.model_copy(update={"metadata": known.metadata})
        elif paper.version > known.version:
            papers[paper.id] = paper.model_copy(
                update={"announce_type": known.announce_type, "announced": known.announced, "updated": paper.announced}
            )
            updated += 1
    return list(papers.values()), new, updated


def merge_backfilled(known: Mapping[str, Ranked], backfilled: Iterable[Paper]) -> list[Paper]:
    """The backfill's papers to add: those the catalog lacks, and newer versions of papers it
    only has from an earlier backfill; a paper announced stays as it is."""
    added: dict[str, Paper] = {}
    for paper in backfilled:
        have = added.get(paper.id) or known.get(paper.id)
        if have is None or (have.backfilled and paper.version > have.version):
            added[paper.id] = paper
    return list(added.values())


def papers_changed(state: RefreshState, entries: Sequence[Entry], now: datetime) -> RefreshState:
    """The state, with its record of when the stored papers last changed: now, if they differ
    from the ones it knew (by digest), else as it was."""
    digest = hashlib.sha256("\n".join(stored_names(entries)).encode()).hexdigest()[:24]
    if digest == state.papers_digest:
        return state
    return state.but(papers_digest=digest, papers_changed_at=now)

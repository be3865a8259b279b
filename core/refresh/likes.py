"""The papers a researcher loves: config.json's ``like`` ids, its topics' ``like`` lists, a
BibTeX export (``like_bibtex``: Zotero, Mendeley, JabRef) and readers' ``?like=``.

A BibTeX entry with an arXiv id (``eprint``, ``arxiv``, or an arxiv.org ``url``/``doi``) is
taken by id; one without is taken by its title and abstract as they are written. Liked papers
the store lacks are asked of the arXiv API (``id_list``, batched, through the refresh's
``ArxivClient``, at most FETCH_LIMIT a refresh: a big new library comes over a few) and kept
in the store; an id arXiv does not know is reported, never fatal. A followed Zotero library's
papers (``core.zotero``) join them in ``stages.resolve_likes``.

A reader's request never reaches arXiv: an id it names that is not stored is remembered as
pending (``Store.add_pending_likes``, bounded), and the next refresh fetches it here and keeps
it among the ``requested`` papers (the newest MAX_REQUESTED). The store keeps the liked
papers of the ``LikedSet`` only: every other is deleted when it is saved.
``bibtex_refs`` is pure; ``resolve`` does the I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.arxiv.client import ArxivClient
from core.arxiv.ids import parse_id
from core.models import LikedSet, Paper
from core.store import Store
from core.text import limits
from core.text.latex import latex_to_unicode, readable

log = logging.getLogger(__name__)

MAX_REQUESTED = 200  # papers fetched for readers' ?like= that the store keeps, the newest
FETCH_LIMIT = 500  # liked papers asked of the arXiv API in one refresh: 5 requests, about 15 s at 3 s apart
MAX_MISSING = 500  # ids arXiv does not know, remembered so that readers are told at once
BIBTEX_PREFIX = "bib:"  # the id of a liked BibTeX entry that has no arXiv id: bib:<its key>
_UNDATED = datetime(1991, 8, 1, tzinfo=UTC)  # liked papers are never dated in a feed


@dataclass(frozen=True)
class BibRef:
    """One BibTeX entry: its arXiv id, or its title and abstract (cleaned and capped)."""

    key: str
    arxiv: str | None = None
    title: str = ""
    abstract: str = ""
    cut: tuple[str, ...] = ()  # the fields over their cap (core.text.limits), cut to it

    def as_paper(self) -> Paper:
        title, abstract = latex_to_unicode(self.title), latex_to_unicode(self.abstract)
        return Paper(id=BIBTEX_PREFIX + self.key, title=title, abstract=abstract, title_text=title, announced=_UNDATED)


# Where an entry may name its arXiv id, in the order asked: the first that holds one wins, so an
# eprint of elsewhere (a PubMed id) does not hide an arxiv.org url or an arXiv DOI.
_ID_FIELDS = ("eprint", "arxiv", "arxivid", "url", "doi")


def bibtex_refs(text: str) -> list[BibRef]:
    """The entries of a BibTeX file; entries with neither an arXiv id nor a title are skipped.
    Every text is cleaned and capped here, once (``core.text.limits``)."""
    from bibtexparser.entrypoint import parse_string  # only the refresh reads BibTeX

    refs = []
    for entry in parse_string(text).entries:
        fields = {f.key.lower(): str(f.value) for f in entry.fields}
        found = next((i for k in _ID_FIELDS if k in fields and (i := parse_id(fields[k])) is not None), None)
        fit = limits.Fitter()
        title = fit.text("title", fields.get("title", "").replace("{", "").replace("}", ""), limits.TITLE)
        if found or title:
            abstract = fit.text("abstract", fields.get("abstract"), limits.ABSTRACT)
            key = fit.text("key", entry.key, limits.KEY)
            if fit.changed:
                log.warning("likes: BibTeX entry %r had its %s cut to size", key, fit.note())
            refs.append(BibRef(key, found, title, abstract, tuple(fit.cut)))
    return refs


@dataclass
class Resolved:
    """The liked papers found, and the ids arXiv does not know."""

    papers: list[Paper] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # arXiv answered without them
    unanswered: list[str] = field(default_factory=list)  # the arXiv API failed: asked again next time


def known(ids: Sequence[str], stored: Iterable[Paper], store: Store) -> dict[str, Paper]:
    """The papers of ``ids`` found without asking arXiv: among the stored papers, or kept in the
    store's liked papers."""
    wanted = set(ids)
    by_id = {p.id: p for p in stored if p.id in wanted}
    if rest := [i for i in ids if i not in by_id]:
        by_id |= store.load_liked(rest)
    return by_id


def resolve(
    ids: Sequence[str],
    found: dict[str, Paper],
    store: Store,
    client: ArxivClient,
    api_base: str,
    followed: list[str],
) -> Resolved:
    """The papers of ``ids``: those ``known`` ``found``, the rest from the arXiv API (their
    LaTeX converted, as the feeds show it, then kept in the store). An API failure leaves those ids out for
    now (logged)."""
    wanted = list(dict.fromkeys(ids))
    by_id = dict(found)
    asked = [i for i in wanted if i not in by_id]
    later = asked[FETCH_LIMIT:]  # a big new library is fetched over several refreshes
    asked = asked[:FETCH_LIMIT]
    answered, unanswered = fetch(client, api_base, asked, followed) if asked else ({}, [])
    unanswered = [*unanswered, *later]
    fetched = {i: readable(p) for i, p in answered.items()}
    if fetched:
        store.save_liked(list(fetched.values()))
    by_id |= fetched
    missing = [i for i in asked if i not in fetched and i not in unanswered]
    if missing:
        log.warning("likes: arXiv has no paper %s", ", ".join(missing[:10]))
    return Resolved([by_id[i] for i in wanted if i in by_id], missing, unanswered)


def next_liked_set(liked: Sequence[str], pending: Sequence[str], resolved: Resolved, previous: LikedSet) -> LikedSet:
    """The liked set to keep: the ``liked`` ids found, the papers fetched for readers (those of
    ``pending`` found now, then the ones kept before, MAX_REQUESTED at most) and the ids arXiv
    does not know (the ones just asked, then the ones known before, MAX_MISSING at most)."""
    found = {p.id for p in resolved.papers}
    mine = set(liked)  # every one found: by arXiv, or by its title and abstract (BibTeX, Zotero)
    requested = [i for i in dict.fromkeys([*pending, *previous.requested]) if i in found or i in previous.requested]
    asked_again = {*resolved.missing, *found, *resolved.unanswered}
    missing = [*resolved.missing, *(i for i in previous.missing if i not in asked_again)]
    return LikedSet(
        ids=list(dict.fromkeys(liked)),
        requested=[i for i in requested if i not in mine][:MAX_REQUESTED],
        missing=list(dict.fromkeys(missing))[:MAX_MISSING],
    )


def fetch(
    client: ArxivClient, api_base: str, ids: Sequence[str], followed: list[str]
) -> tuple[dict[str, Paper], list[str]]:
    """Ask the arXiv API about ``ids``: the papers found, and the ids of batches that failed
    (logged and skipped)."""
    from core.arxiv.api import fetch_by_ids  # feedparser: not on the serving path until a ?like= needs it

    entries, unanswered = fetch_by_ids(client, api_base, ids)
    asked = set(ids)
    found = {e.id: e.as_paper(followed, backfilled=False) for e in entries if e.id in asked}
    return found, unanswered

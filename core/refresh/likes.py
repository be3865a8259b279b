"""The papers a researcher loves: config.json's ``like`` ids, its topics' ``like`` lists, a
BibTeX export (``like_bibtex``: Zotero, Mendeley, JabRef) and readers' ``?like=``.

A BibTeX entry with an arXiv id (``eprint``, ``arxiv``, or an arxiv.org ``url``/``doi``) is
taken by id; one without is taken by its title and abstract as they are written. Liked papers
the store lacks are asked of the arXiv API (``id_list``, batched, through the refresh's
``ArxivClient``) and kept in the store; an id arXiv does not know is reported, never fatal.

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
from core.text.latex import clean_text, latex_to_unicode, readable

log = logging.getLogger(__name__)

MAX_REQUESTED = 200  # papers fetched for readers' ?like= that the store keeps, the newest
MAX_MISSING = 500  # ids arXiv does not know, remembered so that readers are told at once
BIBTEX_PREFIX = "bib:"  # the id of a liked BibTeX entry that has no arXiv id: bib:<its key>
_UNDATED = datetime(1991, 8, 1, tzinfo=UTC)  # liked papers are never dated in a feed


@dataclass(frozen=True)
class BibRef:
    """One BibTeX entry: its arXiv id, or its title and abstract."""

    key: str
    arxiv: str | None = None
    title: str = ""
    abstract: str = ""

    def as_paper(self) -> Paper:
        title, abstract = latex_to_unicode(clean_text(self.title)), latex_to_unicode(clean_text(self.abstract))
        return Paper(id=BIBTEX_PREFIX + self.key, title=title, abstract=abstract, title_text=title, announced=_UNDATED)


def bibtex_refs(text: str) -> list[BibRef]:
    """The entries of a BibTeX file; entries with neither an arXiv id nor a title are skipped."""
    from bibtexparser.entrypoint import parse_string  # only the refresh reads BibTeX

    refs = []
    for entry in parse_string(text).entries:
        fields = {f.key.lower(): str(f.value) for f in entry.fields}
        found = next((parse_id(fields[k]) for k in ("eprint", "arxiv", "arxivid", "url", "doi") if k in fields), None)
        if found is None and "doi" in fields:  # 10.48550/arXiv.2411.17775 behind an eprint or url of elsewhere
            found = parse_id(fields["doi"])
        title = fields.get("title", "").replace("{", "").replace("}", "")
        if found or title:
            refs.append(BibRef(entry.key, found, title, fields.get("abstract", "")))
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
    answered, unanswered = fetch(client, api_base, asked, followed) if asked else ({}, [])
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
    mine = set(liked)
    requested = [i for i in dict.fromkeys([*pending, *previous.requested]) if i in found or i in previous.requested]
    asked_again = {*resolved.missing, *found, *resolved.unanswered}
    missing = [*resolved.missing, *(i for i in previous.missing if i not in asked_again)]
    return LikedSet(
        ids=[i for i in liked if i in found or i.startswith(BIBTEX_PREFIX)],
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

"""The arXiv API (``ARXIV_API_BASE``, ``export.arxiv.org/api/query``): its requests and its Atom.

Searches (``search_query``) and lookups (``id_list``) come back in the same Atom: an entry a
paper, with its submission date (``published``), its last revision (``updated``), every
category, and what the RSS lacks: the primary category, the authors' comment (pages,
"Accepted at ICLR 2026", code links), the journal reference and the DOI. ``parse_answer`` is
the one reader of that Atom (pure: bytes in, ``ApiEntry`` records out); ``fetch_submissions``
and ``fetch_by_ids`` ask through the run's ``ArxivClient`` (one throttle, one retry policy for
every arXiv request). The refresh's backfill, enrichment and likes all read the API here.
feedparser is imported with this module: the serving path imports it only when a ``?like=``
must ask arXiv (``core.refresh.likes.fetch``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import feedparser

from core import taxonomy
from core.arxiv.client import ArxivClient
from core.arxiv.ids import parse_versioned_id
from core.arxiv.rss import parse_categories, parse_datetime
from core.errors import FeedError, FetchError
from core.models import Metadata, Paper
from core.text import limits

log = logging.getLogger(__name__)

BATCH = 100  # ids in one id_list request
_VENUE = re.compile(
    # A period ends the venue unless an abbreviation goes on ("Proc. 5th International ...").
    r"\b(?:accepted|to appear|published|presented)\s+(?:at|in|to|by|for)\s+(?:the\s+)?"
    r"(?P<venue>(?:[^.;,()]|\.(?=\s*(?-i:[\da-z])))+)",
    re.IGNORECASE,
)
_CONFERENCE = re.compile(
    r"\b(?P<venue>(?:NeurIPS|NIPS|ICLR|ICML|CVPR|ICCV|ECCV|ACL|EMNLP|NAACL|COLING|AAAI|IJCAI|KDD|WWW|SIGIR|"
    r"ISAAC|STOC|FOCS|SODA|CHI|UAI|AISTATS|COLT|ICRA|IROS|RSS|MICCAI|INTERSPEECH|ICASSP)(?:\s+Workshop)?\s+'?\d{2,4})\b"
)
_CODE = re.compile(r"https?://(?:www\.)?(?:github\.com|gitlab\.com|huggingface\.co|bitbucket\.org)/[^\s,;)\]}]+")


@dataclass(frozen=True)
class ApiEntry:
    """One paper as the API describes it."""

    id: str  # version-less
    version: int
    title: str
    authors: list[str]
    abstract: str
    categories: list[str]
    submitted: datetime  # the first version's submission (``published``)
    updated: datetime  # the last version's
    metadata: Metadata
    cut: tuple[str, ...] = ()  # the fields over their cap (core.text.limits), cut to it

    def as_paper(self, followed: list[str], *, backfilled: bool) -> Paper:
        """The paper dated by its submission: "new" when its primary category is followed,
        "cross" otherwise; ``backfilled`` when it stands in the feeds for an announcement."""
        primary = self.metadata.primary_category or (self.categories[0] if self.categories else "")
        return Paper(
            id=self.id,
            version=self.version,
            title=self.title,
            authors=self.authors,
            abstract=self.abstract,
            categories=self.categories,
            announce_type="new" if taxonomy.listed([primary], followed) else "cross",
            announced=self.submitted,
            updated=self.updated,
            doi=self.metadata.doi,
            journal_ref=self.metadata.journal_ref,
            metadata=self.metadata,
            backfilled=backfilled,
        )


@dataclass(frozen=True)
class Answer:
    """One answer: its papers, and how many the query matches in all (a search comes in pages)."""

    entries: list[ApiEntry]
    total: int  # opensearch:totalResults


def parse_answer(body: bytes) -> Answer:
    """The papers of one API answer. arXiv's error entry (title "Error") and entries without a
    versioned id or a date are no papers; bytes that are no feed raise FeedError."""
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.get("version"):
        raise FeedError("the arXiv API answered something that is not a feed", "arXiv may be serving an error page")
    entries = [e for e in map(_entry, parsed.entries) if e is not None]
    for entry in entries:
        if entry.cut:
            log.warning("arXiv API: %s had its %s cut to size", entry.id, ", ".join(dict.fromkeys(entry.cut)))
    try:
        total = int(parsed.get("feed", {}).get("opensearch_totalresults", len(entries)))
    except (TypeError, ValueError):
        total = len(entries)
    return Answer(entries, total)


def _entry(entry: Any) -> ApiEntry | None:
    found = parse_versioned_id(entry.get("id", ""))
    submitted = parse_datetime(entry.get("published_parsed"))
    if found is None or submitted is None or entry.get("title") == "Error":
        return None
    # Every text is cleaned and capped here, once: nothing downstream cleans again.
    fit = limits.Fitter()
    authors = [a.get("name") or "" for a in entry.get("authors", [])[: limits.AUTHORS + 1]]
    return ApiEntry(
        id=found.id,
        version=found.version,
        title=fit.text("title", entry.get("title"), limits.TITLE),
        authors=fit.names("authors", authors, limits.AUTHOR, limits.AUTHORS, limits.AUTHORS_CHARS),
        abstract=fit.text("abstract", entry.get("summary"), limits.ABSTRACT),
        categories=parse_categories(entry.get("tags", []), fit),
        submitted=submitted,
        updated=parse_datetime(entry.get("updated_parsed")) or submitted,
        metadata=_metadata(entry, fit),
        cut=tuple(fit.cut),
    )


def _metadata(entry: Any, fit: limits.Fitter) -> Metadata:
    comment = fit.text("comment", entry.get("arxiv_comment"), limits.COMMENT)
    primary = entry.get("arxiv_primary_category", {})
    primary_term = primary.get("term") if isinstance(primary, dict) else None
    links = [link.rstrip(".") for link in _CODE.findall(comment)][: limits.CODE_LINKS]
    return Metadata(
        primary_category=fit.text("primary category", primary_term, limits.TOKEN) or None,
        comment=comment or None,
        journal_ref=fit.text("journal reference", entry.get("arxiv_journal_ref"), limits.JOURNAL_REF) or None,
        doi=fit.text("DOI", entry.get("arxiv_doi"), limits.URL) or None,
        venue=find_venue(comment),
        code_links=[limits.cut(link, limits.URL) for link in links],
    )


def find_venue(comment: str) -> str | None:
    """ "Accepted at ICLR 2026" -> "ICLR 2026"; a bare "ISAAC 2024" is recognised too. The
    comment is clean already; a venue past its cap is cut between words."""
    if (match := _VENUE.search(comment)) is not None:
        return limits.cut(match["venue"].strip(), limits.VENUE)
    if (match := _CONFERENCE.search(comment)) is not None:
        return match["venue"].strip()
    return None


def search_query(categories: Iterable[str], since: datetime, until: datetime) -> str:
    """``(cat:cs.AI OR cat:astro-ph*) AND submittedDate:[202411210500 TO 202411281400]``: an
    archive with subject classes matches them all with a wildcard; dates are GMT, to the minute."""
    cats = " OR ".join(
        f"cat:{c}*" if c in taxonomy.ARCHIVES and c not in taxonomy.CATEGORIES else f"cat:{c}" for c in categories
    )
    return f"({cats}) AND submittedDate:[{since:%Y%m%d%H%M} TO {until:%Y%m%d%H%M}]"


def fetch_submissions(
    client: ArxivClient, api_base: str, categories: Iterable[str], since: datetime, until: datetime, size: int
) -> Answer:
    """One page of the papers submitted to ``categories`` from ``since`` to ``until``, newest
    first. Raises FetchError or FeedError."""
    params = {
        "search_query": search_query(categories, since, until),
        "start": "0",
        "max_results": str(size),
        "sortBy": "submittedDate",
        "sortOrder": "descending",
    }
    return parse_answer(client.get(api_base, params=params).body)


def fetch_by_ids(client: ArxivClient, api_base: str, ids: Sequence[str]) -> tuple[list[ApiEntry], list[str]]:
    """Ask about ``ids`` in batches: the entries arXiv answered with, and the ids of the batches
    that failed (logged and skipped, so one failure costs only its batch)."""
    entries: list[ApiEntry] = []
    unanswered: list[str] = []
    for start in range(0, len(ids), BATCH):
        batch = list(ids[start : start + BATCH])
        try:
            response = client.get(api_base, params={"id_list": ",".join(batch), "max_results": str(len(batch))})
            entries += parse_answer(response.body).entries
        except (FetchError, FeedError) as exc:
            log.warning("arXiv API: %s; %d papers asked by id go without an answer", exc.message, len(batch))
            unanswered += batch
    return entries, unanswered

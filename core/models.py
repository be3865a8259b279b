"""The domain model that crosses every boundary: ``Paper`` and what we learn about it.

Raw feedparser dicts never leave ``core.arxiv.rss``; the store, the ranking, the feeds and the
pages all speak ``Paper``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field

# The shape of a stored Paper. Raise it with every change old records would not validate
# against, and teach ``core.store.records`` how to migrate the previous shape.
PAPER_SCHEMA = 4

ARXIV_ABS = "https://arxiv.org/abs/"
ARXIV_PDF = "https://arxiv.org/pdf/"
ARXIV_HTML = "https://arxiv.org/html/"


class KeywordHit(BaseModel):
    """One keyword that matched a paper, and where."""

    model_config = ConfigDict(frozen=True)

    keyword: str
    in_title: bool = False
    in_abstract: bool = False
    in_authors: bool = False
    field: str = "all"  # for query-language hits: ti | abs | au | cat | all
    weight: float = 1.0


class SimilarTo(BaseModel):
    """The liked paper a paper is most like (core.text.similarity), and how much (cosine, 0 to 1)."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    similarity: float
    points: float  # what it adds to the score


class Match(BaseModel):
    """Why a paper is (or is not) in a feed: the hits, an exclusion, a liked paper it is like,
    the score."""

    model_config = ConfigDict(frozen=True)

    hits: list[KeywordHit] = Field(default_factory=list)
    excluded_by: str | None = None
    similar: SimilarTo | None = None
    score: float = 0.0


class Summary(BaseModel):
    """An AI summary of one version of a paper, or the record that the model refused it."""

    model_config = ConfigDict(frozen=True)

    status: Literal["ok", "rejected"] = "ok"  # rejected: content inspection, not retried every run
    markdown: str = ""
    html: str = ""  # rendered and sanitised at refresh time, so serving needs no Markdown library
    model: str
    provider: str
    language: str
    source: Literal["abstract", "fulltext"] = "abstract"
    created: datetime
    tokens: int = 0
    reason: str = ""  # why it was rejected, or why the reply was cut


class Metadata(BaseModel):
    """What the arXiv API adds for papers that pass a filter: the primary category, comments and
    what they tell (a venue, code links), the journal reference and the DOI."""

    model_config = ConfigDict(frozen=True)

    primary_category: str | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    venue: str | None = None
    code_links: list[str] = Field(default_factory=list)


class Paper(BaseModel):
    """One arXiv paper, identified by its version-less id (``2601.08670``, ``astro-ph/0601001``)."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = PAPER_SCHEMA
    id: str
    version: int = 1
    title: str  # as arXiv sent it (LaTeX and all)
    authors: list[str] = Field(default_factory=list)
    abstract: str = ""
    # The same in readable Unicode (LaTeX converted), for feeds, pages and the digest; an empty
    # abstract_text means the abstract had nothing to convert.
    title_text: str = ""
    abstract_text: str = ""
    authors_text: list[str] = Field(default_factory=list)  # empty: no name needed converting
    categories: list[str] = Field(default_factory=list)
    announce_type: str = "new"
    announced: datetime
    updated: datetime | None = None
    rights: str | None = None
    doi: str | None = None
    journal_ref: str | None = None
    # Set by the refresh: the followed categories this paper is listed under, and its match.
    listed_in: list[str] = Field(default_factory=list)
    match: Match = Field(default_factory=Match)
    # Set by the refresh too: the score of each config.json topic whose feed shows this paper.
    topics: dict[str, float] = Field(default_factory=dict)
    summary: Summary | None = None
    metadata: Metadata | None = None  # from the arXiv API (core.refresh.enrich), when fetched
    # From the arXiv API's listing (core.refresh.backfill) rather than an announcement: dated by its
    # submission. An announcement of the same paper replaces it.
    backfilled: bool = False
    # The liked paper it is most like by embeddings (core.refresh.embeddings), set by the refresh when
    # config.json's similarity model is "embeddings" and every paper has a vector.
    for_you: SimilarTo | None = None

    @property
    def score(self) -> float:
        return self.match.score

    @property
    def excluded(self) -> bool:
        return self.match.excluded_by is not None

    @property
    def authors_to_convert(self) -> bool:
        """Whether an author's name has LaTeX that ``core.text.latex.readable`` has not converted yet."""
        return not self.authors_text and any("\\" in name or "$" in name for name in self.authors)

    @property
    def settled(self) -> bool:
        """Listed and matched on its converted text: while config.json stays, nothing to redo."""
        return bool(self.listed_in and self.title_text and not self.authors_to_convert)

    @property
    def display_title(self) -> str:
        return self.title_text or self.title

    @property
    def display_abstract(self) -> str:
        return self.abstract_text or self.abstract

    @property
    def display_authors(self) -> list[str]:
        return self.authors_text or self.authors

    @property
    def versioned_id(self) -> str:
        return f"{self.id}v{self.version}"

    @property
    def abs_url(self) -> str:
        return ARXIV_ABS + self.id

    @property
    def pdf_url(self) -> str:
        return ARXIV_PDF + self.versioned_id

    @property
    def html_url(self) -> str:
        return ARXIV_HTML + self.versioned_id


class Ranked(Protocol):
    """What ranking, windows and feed selection read of a paper, whole (``Paper``) or not
    (``Entry``): both satisfy it, so no stage asks which of the two it holds."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def announced(self) -> datetime: ...
    @property
    def announce_type(self) -> str: ...
    @property
    def backfilled(self) -> bool: ...
    @property
    def categories(self) -> Sequence[str]: ...
    @property
    def listed_in(self) -> Sequence[str]: ...
    @property
    def score(self) -> float: ...
    @property
    def excluded(self) -> bool: ...
    @property
    def topics(self) -> Mapping[str, float]: ...


@dataclass(slots=True)  # not frozen, but never changed: frozen would triple the cost of making one
class Entry:
    """A stored paper's place in the feeds, without its text: what a refresh reads of every
    stored paper (the store keeps it next to the paper), so a paper that did not change is
    never decoded again. Every field follows from the paper; ``digest`` names the stored
    version (the store sets it when it writes the paper; empty until then)."""

    id: str
    version: int
    digest: str
    announced: datetime
    announce_type: str
    backfilled: bool
    categories: tuple[str, ...]
    listed_in: tuple[str, ...]
    score: float
    excluded: bool
    topics: dict[str, float]  # the score of each topic that shows it
    settled: bool  # matched on its converted text: while config.json stays, nothing to redo
    enriched: bool  # has the arXiv API's metadata
    for_you: bool  # carries an embeddings match (cleared when the lexical model ranks)

    @classmethod
    def of(cls, paper: Paper, digest: str = "") -> Entry:
        return cls(
            id=paper.id,
            version=paper.version,
            digest=digest,
            announced=paper.announced,
            announce_type=paper.announce_type,
            backfilled=paper.backfilled,
            categories=tuple(paper.categories),
            listed_in=tuple(paper.listed_in),
            score=paper.score,
            excluded=paper.excluded,
            topics=paper.topics,
            settled=paper.settled,
            enriched=paper.metadata is not None,
            for_you=paper.for_you is not None,
        )


class _State(BaseModel):
    """A record the refresh keeps between runs, changed only through ``but``."""

    def but(self, **changes: Any) -> Self:
        """A copy with these fields changed, validated: ``model_copy(update=...)`` checks
        nothing, so a misspelled field or a value of the wrong type would pass silently."""
        unknown = changes.keys() - type(self).model_fields.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        return self.model_validate({**dict(self), **changes})


class BackfillState(_State):
    """The backfill from the arXiv API: what it fills, how far it got, what it added."""

    filled: list[str] = Field(default_factory=list)  # followed categories whose window is full
    categories: list[str] = Field(default_factory=list)  # the ones it is filling now (none: idle)
    since: datetime | None = None  # it fetches submissions from here ...
    until: datetime | None = None  # ... up to here; moves back page by page, across runs
    pages: int = 0  # API pages read for the current fill
    papers: int = 0  # papers it added to the store, in all
    first_day: datetime | None = None  # the oldest and newest dates of those papers
    last_day: datetime | None = None
    message: str = ""  # what the last run did, or why it stopped

    @property
    def active(self) -> bool:
        return bool(self.categories)


class LikesState(_State):
    """What the last refresh made of the liked papers (core.refresh.likes), for /health and the
    for-you feeds; their ids are in the store's ``LikedSet``, apart from this state, which every
    request's version check reads."""

    count: int = 0  # liked papers found (config.json's and the BibTeX file's)
    missing: list[str] = Field(default_factory=list)  # a few ids arXiv does not know (all: LikedSet.missing)
    model: Literal["lexical", "embeddings"] = "lexical"  # what ranks the for-you feed now
    basis: str = ""  # a digest of the liked papers and the embedding model the matches were made with
    message: str = ""
    problem: str = ""  # what kept liked papers from being read (a Zotero library refusing), for the page


class LikedSet(_State):
    """The liked papers the store keeps (core.refresh.likes), by id: a record of its own, read
    once per store version, since its ids can run to thousands."""

    ids: list[str] = Field(default_factory=list)  # config.json's and the BibTeX file's, found (bib:<key>: BibTeX only)
    requested: list[str] = Field(default_factory=list)  # fetched for readers' ?like=, newest first (bounded)
    missing: list[str] = Field(default_factory=list)  # ids arXiv does not know: left out everywhere alike


class RefreshState(_State):
    """What the refresh job remembers between runs, and what /health reports."""

    feed_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_request_at: datetime | None = None
    last_refresh_at: datetime | None = None
    last_success_at: datetime | None = None
    outcome: Literal["never", "ok", "not-modified", "quiet", "error"] = "never"
    message: str = ""
    counts: dict[str, int] = Field(default_factory=dict)
    summary_queue: list[str] = Field(default_factory=list)  # paper ids left for the next run
    summary_message: str = ""
    config_hash: str | None = None  # config.json's matching rules when the papers were last matched
    # When what the feeds show last changed, and a digest of it: a refresh that finds nothing
    # new leaves both alone, so a feed keeps its bytes, its ETag and its date.
    papers_changed_at: datetime | None = None
    papers_digest: str | None = None
    backfill: BackfillState = Field(default_factory=BackfillState)
    likes: LikesState = Field(default_factory=LikesState)

    @property
    def feeds_updated_at(self) -> datetime | None:
        """The date feeds carry (and Last-Modified): when what they show last changed; before any
        change was recorded, the last refresh; None before any refresh at all."""
        return self.papers_changed_at or self.last_success_at or self.last_refresh_at


class ZoteroText(BaseModel):
    """The title and abstract of a Zotero item that has no arXiv id."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # refresh only: a feed never reads it

    title: str
    abstract: str = ""


class ZoteroLibrary(_State):
    """What the refresh keeps of a Zotero library between syncs (core.zotero.sync): the
    library's version and its papers by item key, so the next sync asks only for what changed."""

    model_config = ConfigDict(defer_build=True)  # refresh only: built when a sync first reads it

    library: str = ""  # users/<id> or groups/<id>, and /collections/<key>: another one starts afresh
    version: int = 0  # the library's version (Last-Modified-Version) the items are synced to
    ids: dict[str, str] = Field(default_factory=dict)  # item key -> arXiv id
    texts: dict[str, ZoteroText] = Field(default_factory=dict)  # item key -> text, for items with no arXiv id
    untexted: list[str] = Field(default_factory=list)  # items with no arXiv id over the cap on texts
    # A sync cut short (its page budget, the run's deadline, a Backoff): the version it was
    # paging towards and where the next page starts; the next sync goes on from there.
    target: int = 0
    resume: int = 0
    not_before: datetime | None = None  # Zotero's Backoff: no request before then
    synced_at: datetime | None = None

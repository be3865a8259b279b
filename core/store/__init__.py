"""Where papers and refresh state live: one small interface, one module per backend.

Only this package knows SQLite (local default) or Upstash Redis (on Vercel, chosen when its
settings are present). The refresh job is the single writer of papers and saves the whole
ranked set at once, writing only the papers that are new or changed; feed requests only read,
with one or two round trips each (a filtered feed through the word index about six: state,
head, postings, members, entries, papers) (a reader's "Like" writes only the feedback record, by
compare-and-set). Next to each paper the store keeps its ``Entry`` (its place in the
feeds, without its text): a refresh reads the entries of all stored papers and the papers
themselves only where something changed. Each save also indexes the words of the versions it
wrote (``words``, core.text.words), so a filtered feed reads the postings of its words and
then only its candidates.

Upstash is reached through its REST API (``upstash_rest``) over the standard library's
``http.client`` (``connections``: keep-alive, thread-safe), which FastAPI has loaded already:
opening the store on a cold function imports no HTTP library.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Protocol

from core.models import Entry, Feedback, LikedSet, Paper, RefreshState, Summary, ZoteroLibrary
from core.settings import Settings
from core.store.words import WordsHead

ALL = "*"  # the feed of every followed category


class Store(Protocol):
    name: str

    def ping(self) -> None:
        """Raise StoreError when the store cannot be reached."""

    def save_catalog(self, order: Sequence[Entry], changed: Mapping[str, Paper]) -> list[Entry]:
        """Replace every stored paper with the papers of these entries, in this order (best
        first); all or nothing. Returns the entries stored.

        The paper of an entry whose id is in ``changed`` is written from there (new or
        changed); any other entry (from ``load_index``) names a stored paper that stays as it is.
        A changed paper too big for the backend (Upstash: one request) is not written: the
        entry of its stored version, if any, takes its place, else it is left out (logged)."""

    def save_papers(self, papers: Sequence[Paper]) -> list[Entry]:
        """``save_catalog`` of these papers, each written whole."""

    def load_index(self) -> list[Entry]:
        """The entry of every stored paper, in saved order (no paper is read whole)."""

    def load_whole(self, entries: Sequence[Entry]) -> list[Paper]:
        """The stored papers of these entries, read whole, in their order."""

    def load_words(self) -> WordsHead:
        """The word index's head (core.store.words) when it covers the stored papers' current
        generation whole; an empty head (``covers`` "") otherwise."""

    def load_postings(self, head: WordsHead, tokens: Sequence[str]) -> dict[tuple[str, str], str]:
        """The encoded postings (core.text.words) of these tokens in the head's segments, by
        (segment, token); absent where a segment has none."""

    def load_members(self, segments: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """Each segment's members (stored names ``<id>@<digest>``) by ordinal."""

    def load_entries(self, names: Sequence[str]) -> dict[str, Entry]:
        """The entries of these stored versions, by name; absent where that version is gone."""

    def load_named(self, names: Sequence[str]) -> dict[str, Paper]:
        """The stored papers of these versions, by name, read whole; absent where gone."""

    def load_papers(self, feed: str | None = None, limit: int | None = None) -> list[Paper]:
        """Papers listed under a followed category (every paper for None), in saved order."""

    def load_feed(self, feed: str | None = None, limit: int | None = None) -> tuple[RefreshState, list[Paper], str]:
        """The refresh state, ``load_papers(feed, limit)`` and the version of what was read, in
        as few round trips as possible."""

    def load_version(self) -> str:
        """A short token that changes whenever the papers or the state are saved (one cheap read)."""

    def load_status(self) -> tuple[RefreshState, int]:
        """The refresh state and how many papers are stored, in one command (what /health shows;
        an uptime monitor calls it every minute)."""

    def load_state(self) -> RefreshState: ...

    def save_state(self, state: RefreshState) -> None: ...

    def load_summaries(self, keys: Sequence[str]) -> dict[str, Summary]:
        """Cached summaries by key (see core.summarize.pipeline.summary_key); missing keys are absent."""

    def save_summaries(self, summaries: Mapping[str, Summary]) -> None: ...

    def load_liked(self, ids: Sequence[str]) -> dict[str, Paper]:
        """Liked papers kept by id (fetched from the arXiv API once); missing ids are absent."""

    def save_liked(self, papers: Sequence[Paper]) -> None: ...

    def load_liked_set(self) -> LikedSet:
        """The liked set the last refresh kept (empty before any)."""

    def save_liked_set(self, liked: LikedSet) -> None:
        """Keep this liked set; the liked papers of every id it names in neither ``ids`` nor
        ``requested`` are deleted."""

    def add_pending_likes(self, ids: Sequence[str], cap: int) -> None:
        """Remember ids a reader's ``?like=`` named that are not stored, for the next refresh
        to fetch: at most ``cap`` of them, the newest kept."""

    def load_pending_likes(self) -> list[str]:
        """The ids readers asked for that the refresh has not fetched yet, newest first."""

    def drop_pending_likes(self, ids: Sequence[str]) -> None:
        """Forget these pending ids (the refresh fetched them, or arXiv has none)."""

    def load_vectors(self, keys: Sequence[str]) -> dict[str, str]:
        """Cached embeddings (base64 float32) by key (core.refresh.embeddings.vector_key)."""

    def save_vectors(self, vectors: Mapping[str, str]) -> None: ...

    def add_usage(self, day: str, calls: int, tokens: int) -> tuple[int, int]:
        """Add to the day's summary calls and tokens, atomically; return the day's totals."""

    def acquire_lock(self, owner: str, ttl_s: float) -> bool:
        """Take the refresh lock for ``ttl_s`` unless someone else holds an unexpired one
        (the owner taking it again renews it)."""

    def release_lock(self, owner: str) -> None:
        """Release the lock if (and only if) ``owner`` holds it."""

    def lock_holder(self) -> str | None:
        """Who holds the unexpired lock, if anyone."""

    def load_zotero(self) -> ZoteroLibrary:
        """The Zotero sync record (empty before the first sync)."""

    def save_zotero(self, library: ZoteroLibrary) -> None: ...

    def load_feedback(self) -> Feedback:
        """The opinions given from the feeds (empty before any); its version is in ``load_version``."""

    def save_feedback(self, feedback: Feedback, replaces: str) -> bool:
        """Keep ``feedback`` (its ``version`` new) if the stored record is still the one of
        version ``replaces`` ("" for none); False, nothing written, when another save came
        between (read it again). Changes the store's version."""


def version_of(generation: str | None, state_json: str | None, feedback: str | None = None) -> str:
    """The version token of every backend: it changes with each save of the papers (a new
    generation), of the refresh state or of the feedback (its version token)."""
    told = f"\n{feedback}" if feedback else ""  # none yet: the same token as before feedback existed
    return hashlib.sha256(f"{generation}\n{state_json}{told}".encode()).hexdigest()[:24]


def open_store(settings: Settings) -> Store:
    """Upstash when its URL and token are set, otherwise the SQLite file under DATA_DIR."""
    if settings.upstash_url and settings.upstash_token:
        from core.store.upstash import UpstashStore

        return UpstashStore(settings.upstash_url, settings.upstash_token, timeout_s=settings.store_timeout_s)
    from core.store.sqlite import SqliteStore

    return SqliteStore(settings.data_dir / "arxiv-rss-bot.sqlite3")

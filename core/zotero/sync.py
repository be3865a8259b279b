"""Sync a Zotero library into liked papers, incrementally, as Zotero's sync documentation asks.

The store keeps one record of the library (``core.models.ZoteroLibrary``): the library's
version and, by item key, each paper's arXiv id (or its title and abstract). A sync then:

1. asks for the items changed since that version (``since=<version>``, with
   ``If-Modified-Since-Version``: an unchanged library costs one 304), trashed ones
   included (``includeTrashed=1``) so that an item moved to the trash leaves too, 100 a
   page, following the ``Link`` header's ``rel="next"``;
2. asks ``/deleted?since=<version>`` for the items deleted from the library;
3. with a collection, asks for the keys in it (``format=keys``): an item taken out of the
   collection leaves the likes.

Every page names the library's version (``Last-Modified-Version``); a library that changes
while it is read is read again from the old version. A sync is bounded (``max_pages``, its
time, Zotero's ``Backoff``): one cut short keeps what it read, and where it stopped, and the
next refresh goes on from there. A bad key, a library that does not exist, or Zotero being
down is said in the result (``error``), never raised: the likes stay those of the last sync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from core.config import ZoteroConfig
from core.errors import ZoteroError
from core.models import Paper, ZoteroLibrary, ZoteroText
from core.settings import Settings
from core.store import Store
from core.zotero.client import Answer, ZoteroClient
from core.zotero.items import Item, parse_item

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # Zotero's most per request
MAX_PAGES = 40  # pages of changed items per sync (4,000 items); a larger library goes on next time
MAX_TEXTS = 1_000  # items kept by title and abstract (no arXiv id); the rest are counted
MAX_SYNC_S = 60.0  # a sync's share of the refresh's time
MAX_RESTARTS = 2  # a library that keeps changing while it is read is left for the next refresh
PAPER_PREFIX = "zotero:"  # the id of a liked paper known by its Zotero text: zotero:<item key>
_UNDATED = datetime(1991, 8, 1, tzinfo=UTC)  # liked papers are never dated in a feed


@dataclass(frozen=True)
class ZoteroSync:
    """What a sync gives the likes stage: the arXiv ids and the papers known only by their
    text, a one-line note for the state and the page, and the error when Zotero refused."""

    ids: list[str] = field(default_factory=list)
    papers: list[Paper] = field(default_factory=list)  # items with no arXiv id, ids zotero:<key>
    note: str = ""
    error: str = ""  # set when the sync failed: the ids and papers are then the last sync's (and any pages read)
    version: int = 0  # the library version the ids are synced to
    requests: int = 0


def sync(
    config: ZoteroConfig,
    settings: Settings,
    store: Store,
    now: datetime,
    deadline: float | None = None,
    max_pages: int = MAX_PAGES,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> ZoteroSync:
    """Bring the store's record of the configured library up to date and return its papers.
    ``deadline`` is a ``clock()`` value the sync never runs past (the refresh's)."""
    name = config.prefix + (f"/collections/{config.collection}" if config.collection else "")
    record = store.load_zotero()
    if record.library != name:  # another library or collection: start afresh
        record = ZoteroLibrary(library=name)
    if record.not_before is not None and now < record.not_before:
        note = f"Zotero asked to wait until {record.not_before:%H:%M} UTC; the likes are the last sync's"
        return _result(record, note)
    stop = clock() + MAX_SYNC_S
    stop = min(stop, deadline) if deadline is not None else stop
    key = settings.api_keys.get(config.api_key_env)
    client = ZoteroClient(settings.zotero_api_base, key, deadline=stop, clock=clock, sleep=sleep, transport=transport)
    with client:
        puller = _Puller(client, config, record, now, max_pages)
        error = ""
        try:
            note = puller.pull()
        except ZoteroError as exc:
            if exc.wait_s is None:
                error = _explain(exc, config, key is not None)
                log.warning("zotero: %s", error)
                note = error
            else:
                note = f"Zotero {name}: {exc.message}; read {puller.read} changed items, the next refresh goes on"
        waited = max(client.backoff_until - clock(), 0.0)
        record = puller.record
        if waited:
            record = record.but(not_before=now + timedelta(seconds=waited))
        elif record.not_before is not None:
            record = record.but(not_before=None)
        store.save_zotero(record)
        return _result(record, note, error, client.requests)


class _Puller:
    """One sync's reads, applied to ``record`` page by page (so a sync cut short keeps them)."""

    def __init__(self, client: ZoteroClient, config: ZoteroConfig, record: ZoteroLibrary, now: datetime, pages: int):
        self.client, self.config, self.record, self.now, self.pages = client, config, record, now, pages
        collection = f"/collections/{config.collection}" if config.collection else ""
        self.items_path = f"{config.prefix}{collection}/items"
        self.read = 0

    def pull(self) -> str:
        """Read what changed since the record's version and apply it; returns the note."""
        since, name = self.record.version, self.record.library
        for _ in range(MAX_RESTARTS + 1):
            answer = self._first_page(since)
            if answer.unchanged:
                self.record = self.record.but(synced_at=self.now)
                return f"Zotero {name}: unchanged since version {since}: {_counts(self.record)}"
            outcome = self._read_pages(answer)
            if outcome == "stopped":
                return f"Zotero {name}: read {self.read} changed items, the next refresh goes on"
            if outcome == "done":
                break
            self._forget_partial(since)
        else:
            return f"Zotero {name}: the library kept changing while it was read; the next refresh reads it again"
        if since:
            self._drop_deleted(since)
        target = self.record.target
        self.record = self.record.but(version=target, target=0, resume=0, synced_at=self.now)
        return f"Zotero {name}: {_counts(self.record)}, library version {target}"

    def _first_page(self, since: int) -> Answer:
        """The first page of this read: where an earlier sync stopped, if the library is still
        at the version it was reading; otherwise the first of the changes (a 304 if none)."""
        params = {"since": str(since), "includeTrashed": "1", "limit": str(PAGE_SIZE), "format": "json"}
        if self.record.target and self.record.resume:
            answer = self.client.get(self.items_path, {**params, "start": str(self.record.resume)})
            if answer.version == self.record.target:
                return answer
            self._forget_partial(since)
        self.record = self.record.but(target=0, resume=0)
        return self.client.get(self.items_path, params, since=since or None)

    def _forget_partial(self, since: int) -> None:
        """A read given up because the library changed meanwhile: after a first version,
        ``/deleted?since=`` will say what left; a first sync has nothing to ask it from, so
        what it read so far is dropped (an item deleted meanwhile would otherwise stay)."""
        if not since:
            self.record = ZoteroLibrary(library=self.record.library)

    def _read_pages(self, answer: Answer) -> str:
        """Apply this page and the ones after it: "done" at the last page, "stopped" at the
        page budget, "changed" when a page is of another library version than the first."""
        target = answer.version or 0
        self.record = self.record.but(target=target)
        for page in range(1, self.pages + 1):
            if (answer.version or 0) != target:
                self.record = self.record.but(target=0, resume=0)
                return "changed"
            raws = answer.body if isinstance(answer.body, list) else []
            self._apply([item for raw in raws if (item := parse_item(raw)) is not None])  # notes etc. are None
            self.read += len(raws)
            self.record = self.record.but(resume=self.record.resume + len(raws))
            if answer.next is None:
                return "done"
            if page < self.pages:
                answer = self.client.get(answer.next)
        return "stopped"

    def _drop_deleted(self, since: int) -> None:
        """Drop the items deleted since ``since`` and, with a collection, those no longer in it.
        An answer of another shape raises: read as "none left", it would empty the likes."""
        deleted = self.client.get(f"{self.config.prefix}/deleted", {"since": str(since)}).body
        if not isinstance(deleted, dict) or not isinstance(deleted.get("items"), list):
            raise ZoteroError(f"Zotero's /deleted answer for {self.config.prefix} is not the documented object")
        gone = {k for k in deleted["items"] if isinstance(k, str)}
        if self.config.collection:
            keys = self.client.get(self.items_path, {"format": "keys"}).body
            if not isinstance(keys, str):
                raise ZoteroError(f"Zotero's keys of {self.items_path} are not the documented plain text")
            members = set(keys.split())
            gone |= {k for k in [*self.record.ids, *self.record.texts, *self.record.untexted] if k not in members}
        self._apply([], removed=gone)

    def _apply(self, items: list[Item], removed: set[str] | None = None) -> None:
        ids, texts = dict(self.record.ids), dict(self.record.texts)
        untexted = dict.fromkeys(self.record.untexted)
        for key in [*(removed or ()), *(i.key for i in items)]:
            for kept in (ids, texts, untexted):
                kept.pop(key, None)
        for item in items:
            if item.trashed:
                continue
            if item.arxiv:
                ids[item.key] = item.arxiv
            elif item.title and len(texts) < MAX_TEXTS:
                texts[item.key] = ZoteroText(title=item.title, abstract=item.abstract)
            elif item.title:
                untexted[item.key] = None
        self.record = self.record.but(ids=ids, texts=texts, untexted=list(untexted))


def _result(record: ZoteroLibrary, note: str, error: str = "", requests: int = 0) -> ZoteroSync:
    papers = [
        Paper(id=PAPER_PREFIX + key, title=t.title, title_text=t.title, abstract=t.abstract, announced=_UNDATED)
        for key, t in record.texts.items()
    ]
    ids = list(dict.fromkeys(record.ids.values()))
    return ZoteroSync(ids, papers, note, error, record.version, requests)


def _counts(record: ZoteroLibrary) -> str:
    text = f"{len(set(record.ids.values()))} papers by arXiv id, {len(record.texts)} by title and abstract"
    if record.untexted:
        text += f" ({len(record.untexted)} more without an arXiv id left out: at most {MAX_TEXTS:,} are kept)"
    return text


def _explain(exc: ZoteroError, config: ZoteroConfig, keyed: bool) -> str:
    """A refusal in words that say what to fix."""
    where = config.prefix + (f" (collection {config.collection})" if config.collection else "")
    if exc.status == 403:
        if not keyed:
            return (
                f"Zotero refused access to {where}, which is not public: set {config.api_key_env} to an API key"
                " that may read it (https://www.zotero.org/settings/keys)"
            )
        return (
            f"Zotero refused the key in {config.api_key_env} for {where}: it is wrong, revoked, or may not read"
            " this library; make one with read access at https://www.zotero.org/settings/keys"
        )
    if exc.status == 404:
        what = "library or collection" if config.collection else "library"
        return (
            f"Zotero has no {what} {where}: check zotero.library_type, zotero.library_id"
            f"{' and zotero.collection' if config.collection else ''} in config.json"
        )
    return f"{exc.message} ({exc.hint})" if exc.hint else exc.message

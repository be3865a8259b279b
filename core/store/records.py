"""Stored records, read back safely: versioned papers, and what to do with an old one.

Every stored paper carries ``schema_version`` (``core.models.PAPER_SCHEMA``). Reading one
record never fails a whole read: a record of an older shape is migrated, and one that cannot
be read (corrupt, or written by a newer version of this service) is skipped with a log line.
A refresh then writes it again from arXiv's data, or lets it age out.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from core.models import PAPER_SCHEMA, Entry, Feedback, LikedSet, Paper, RefreshState, Summary, ZoteroLibrary
from core.text.latex import strip_illegal

log = logging.getLogger(__name__)
T = TypeVar("T")


# from-version -> a function turning a record of that version into one of the next version.
def _listed_in(record: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 -> 2: ``feeds`` (the followed categories a paper is listed under) was renamed."""
    return {**{k: v for k, v in record.items() if k != "feeds"}, "listed_in": record.get("feeds", [])}


def _reconvert_percent(record: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 -> 3: a text with an escaped percent ("5\\% faster") was converted cut short at
    it; dropping the converted text makes the next refresh convert (and match) it again."""
    raw = f"{record.get('title', '')} {record.get('abstract', '')}"
    if "\\%" not in raw:
        return record
    return {k: v for k, v in record.items() if k not in ("title_text", "abstract_text")}


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    """Schema 3 -> 4: feeds stopped cleaning text on the way out; every text is cleaned where it
    comes in. Older versions cleaned the titles, abstracts and names, not all the rest (a
    category from the API's lenient parse could keep a form feed), so an older record is
    cleaned of XML-illegal characters as it is read."""
    return _cleaned(record)  # type: ignore[no-any-return]


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return strip_illegal(value)
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    if isinstance(value, dict):
        return {k: _cleaned(v) for k, v in value.items()}
    return value


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _listed_in, 2: _reconvert_percent, 3: _clean}


Migration = Callable[[dict[str, Any]], dict[str, Any]]


def decode_paper(raw: str | bytes, migrations: dict[int, Migration] = MIGRATIONS) -> Paper | None:
    """The paper in ``raw``, migrated to the current schema; None (logged) if it is not a paper
    this service can read. Only a record's own faults are caught: a failing migration is a bug,
    and raises."""
    if raw[: len(_CURRENT)] in (_CURRENT, _CURRENT_BYTES):  # as this version writes it: no migration
        try:
            return Paper.model_validate_json(raw)  # parsed and checked in one pass, twice as fast
        except ValidationError as exc:
            return _unreadable(str(exc))
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return _unreadable(f"not JSON: {exc}")
    version = data.get("schema_version", 1) if isinstance(data, dict) else None
    if not isinstance(version, int) or version < 1:
        return _unreadable("not a stored paper")
    if version > PAPER_SCHEMA:
        log.warning(
            "store: skipping paper %s of schema %d (this service reads %d)", data.get("id"), version, PAPER_SCHEMA
        )
        return None
    while version < PAPER_SCHEMA:
        data = migrations[version](data)
        version += 1
    try:
        return Paper.model_validate({**data, "schema_version": PAPER_SCHEMA})
    except ValidationError as exc:
        return _unreadable(str(exc))


def _unreadable(reason: str) -> Paper | None:
    log.warning("store: skipping a stored paper that cannot be read: %s", reason.splitlines()[0][:200])
    return None


def decode_papers(raws: Iterable[str | bytes | None]) -> list[Paper]:
    with _collector_paused():
        return [paper for raw in raws if raw is not None and (paper := decode_paper(raw)) is not None]


# How every paper this version writes begins (``Paper.model_dump_json``: schema_version first).
_CURRENT = f'{{"schema_version":{PAPER_SCHEMA},'
_CURRENT_BYTES = _CURRENT.encode()


def decode_state(raw: str | bytes | None) -> RefreshState:
    """The refresh state; an unreadable one counts as no refresh yet (logged), never an error."""
    if not raw:
        return RefreshState()
    try:
        return RefreshState.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("store: the refresh state cannot be read, starting afresh: %s", str(exc).splitlines()[0])
        return RefreshState()


def decode_liked_set(raw: str | bytes | None) -> LikedSet:
    """The liked set; an unreadable one counts as empty (logged): the next refresh writes it again."""
    if not raw:
        return LikedSet()
    try:
        return LikedSet.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("store: the liked set cannot be read: %s", str(exc).splitlines()[0])
        return LikedSet()


def decode_summary(raw: str | bytes) -> Summary | None:
    try:
        return Summary.model_validate_json(raw)
    except ValidationError:
        log.warning("store: skipping a cached summary that cannot be read")
        return None


def encode_paper(paper: Paper) -> tuple[str, Entry]:
    """A paper's stored JSON and its entry, whose digest names that JSON."""
    text = paper.model_dump_json()
    return text, Entry.of(paper, digest_of(text))


def digest_of(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def stored_name(entry: Entry) -> str:
    """The name of a paper's stored version: its id and digest (``2411.17775@3f9a...``)."""
    return f"{entry.id}@{entry.digest}"


def stored_names(entries: Iterable[Entry]) -> list[str]:
    """``stored_name`` of each (in one comprehension: a refresh names 60,000)."""
    return [f"{e.id}@{e.digest}" for e in entries]


ENTRY_SCHEMA = 1


def encode_entry(entry: Entry) -> str:
    """An entry as a compact JSON array (about 130 bytes), in field order."""
    e = entry
    fields = [e.id, e.version, e.digest, e.announced.isoformat(), e.announce_type, e.backfilled, e.categories]
    fields += [e.listed_in, e.score, e.excluded, list(e.topics.items()), e.settled, e.enriched, e.for_you]
    return json.dumps([ENTRY_SCHEMA, *fields], separators=(",", ":"))


def decode_entry(raw: str | bytes | None) -> Entry | None:
    """The entry in ``raw``; None when there is none or it cannot be read (the paper is then
    read whole and its entry made again)."""
    return decode_entries([raw])[0]


def decode_entries(raws: Sequence[str | bytes | None]) -> list[Entry | None]:
    """``decode_entry`` of each, parsed as one JSON document when they all parse (a store of
    60,000 papers is read in half the time)."""
    texts = [raw.decode() if isinstance(raw, bytes) else raw for raw in raws]
    with _collector_paused():
        try:
            try:
                joined = ",".join(texts)  # type: ignore[arg-type]  # every one there, as almost always
            except TypeError:
                joined = ",".join("null" if t is None else t for t in texts)
            rows = json.loads(f"[{joined}]")
            if len(rows) != len(texts):
                raise ValueError("an entry is not one JSON value")
        except ValueError:
            rows = [_parsed(t) for t in texts]
        dates: dict[str, datetime] = {}  # a store's 60,000 entries share a few hundred dates
        return [None if r is None else _entry(r, dates) for r in rows]


def unscanned(read: Callable[[], T], sweep: bool = False) -> T:
    """``read()``, a read of every stored paper or entry, its objects then kept out of the
    cycle collector's sight (``gc.freeze``, which Python documents as a way "to speed up
    collection"). A stored paper is about fifteen containers and an entry about four, none in
    a cycle: they are freed by their reference count when they go. Scanned, the collector went
    over them again and again: at 30,000 stored papers 0.5 of the 1.2 s of an instance's first
    filtered feed, at 60,000 a quarter of what a refresh's time grows by.

    What is frozen is never collected as a cycle: the young garbage cycles are collected first
    (generations 0 and 1: quick, bounded by the collector's thresholds), so at most the old
    ones waiting for a full collection, if any, stay; a full collection here would scan the
    whole heap for each read (0.3 s in a benchmark's process). So that they do not pile up in
    a process that lives for months (``serve``, a busy instance), the refresh (``sweep``, once
    or twice a day, where 0.3 s is nothing) first thaws what earlier reads froze and collects
    in full."""
    if sweep:
        gc.unfreeze()
        gc.collect()
    else:
        gc.collect(1)
    with _collector_paused():
        found = read()
        gc.freeze()
        return found


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while many small objects are made (none of them forms a
    cycle): otherwise it runs every few hundred objects, half the time of reading 60,000 entries."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parsed(text: str | None) -> Any:
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        log.warning("store: an entry cannot be read, the paper is read whole")
        return None


def _entry(row: Any, dates: dict[str, datetime]) -> Entry | None:
    """The entry in a parsed row; ``dates`` the announcement dates parsed so far, by their text."""
    try:
        if not isinstance(row, list) or not row:
            raise ValueError(f"a {type(row).__name__}, not a row of fields")
        if row[0] != ENTRY_SCHEMA:
            return None
        _, id_, version, digest, announced, kind, backfilled, cats, listed, score, excluded, topics, *flags = row
        settled, enriched, for_you = flags
        if (when := dates.get(announced)) is None:
            when = dates[announced] = datetime.fromisoformat(announced)
        return Entry(
            str(id_),
            int(version),
            str(digest),
            when,
            str(kind),
            bool(backfilled),
            tuple(cats),
            tuple(listed),
            float(score),
            bool(excluded),
            {str(name): float(points) for name, points in topics} if topics else {},
            bool(settled),
            bool(enriched),
            bool(for_you),
        )
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        log.warning("store: an entry cannot be read, the paper is read whole: %s", exc)
        return None


def decode_zotero(raw: str | bytes | None) -> ZoteroLibrary:
    """The Zotero sync record; an unreadable one counts as none (logged): the next sync starts afresh."""
    if not raw:
        return ZoteroLibrary()
    try:
        return ZoteroLibrary.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("store: the Zotero sync record cannot be read, syncing afresh: %s", str(exc).splitlines()[0])
        return ZoteroLibrary()


def decode_feedback(raw: str | bytes | None) -> Feedback:
    """The feedback record; an unreadable one counts as none (logged), and the next save replaces it."""
    if not raw:
        return Feedback()
    try:
        return Feedback.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("store: the feedback record cannot be read, starting afresh: %s", str(exc).splitlines()[0])
        return Feedback()

"""The embedded store: one SQLite file under DATA_DIR, the local default.

Papers are stored whole as JSON, each once (``paper``); ``entries`` holds the ranked set in
order, each paper's entry (``core.models.Entry``) in a row of its own, so a refresh reads
those and not the papers; ``paper_feeds`` lists the followed categories each paper appears
under, at its entry's position; ``word_segments`` and ``word_postings`` are the word index
(core.store.words), its head in ``state``. Positions are sparse (``core.store.positions``): a
save writes only new or changed papers, and only the rows of entries new, changed or moved;
the rest of the ranked set stays as it is. That needs the positions stored, which a store
knows from its last read or write of them in the same generation; otherwise (another process
saved since) it writes the set whole. WAL mode lets feed requests read while the refresh
writes, and every write happens in one transaction.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from core.errors import StoreError
from core.models import Entry, Feedback, LikedSet, Paper, RefreshState, Summary, ZoteroLibrary
from core.store import version_of
from core.store.positions import place
from core.store.records import (
    decode_entries,
    decode_feedback,
    decode_liked_set,
    decode_paper,
    decode_papers,
    decode_state,
    decode_summary,
    decode_zotero,
    encode_entry,
    encode_paper,
    stored_name,
    stored_names,
)
from core.store.words import WordsHead, placing, plan_words
from core.text.words import Placing

_SCHEMA = """
CREATE TABLE IF NOT EXISTS paper (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (position INTEGER PRIMARY KEY, id TEXT NOT NULL, entry TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS paper_feeds (
    feed TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (feed, position)
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS summaries (key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS liked (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending_likes (id TEXT PRIMARY KEY, asked REAL NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS usage (day TEXT PRIMARY KEY, calls INTEGER NOT NULL, tokens INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS word_segments (segment TEXT PRIMARY KEY, members TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS word_postings (
    segment TEXT NOT NULL,
    token TEXT NOT NULL,
    ordinals TEXT NOT NULL,
    PRIMARY KEY (segment, token)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_id ON entries (id);
"""


@dataclass
class _Placed:
    """The ranked set as this store last read or wrote it: the generation, and each entry's
    position by name (``records.stored_name``)."""

    generation: str | None = None
    positions: dict[str, int] = field(default_factory=dict)


class SqliteStore:
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False
        # One connection per thread, kept: opening one per request cost a third of a cached
        # feed's time. (sqlite3 connections must stay on the thread that made them.)
        self._local = threading.local()
        self._setup = threading.Lock()  # the first connection creates the tables, once
        self._placed = _Placed()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._connection()
            with conn:  # one transaction: commit on success, roll back on error
                yield conn
        except (sqlite3.Error, OSError) as exc:
            self._drop_connection()  # a failed connection (a full disk, a deleted file) is not reused
            raise StoreError(f"SQLite store {self.path}: {exc}", "check DATA_DIR is a writable directory") from exc

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._setup:
                if not self._ready:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    with closing(sqlite3.connect(self.path, timeout=10)) as first:
                        first.execute("PRAGMA journal_mode = WAL")
                        first.executescript(_SCHEMA)
                        _migrate_positions(first)
                    self._ready = True
            # IMMEDIATE: a write transaction takes the write lock when it begins, waiting its
            # turn; a deferred one that upgrades later fails at once if another wrote meanwhile.
            conn = sqlite3.connect(self.path, timeout=10, isolation_level="IMMEDIATE")
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def ping(self) -> None:
        with self._connect() as conn:
            conn.execute("SELECT 1").fetchone()

    def save_papers(self, papers: Sequence[Paper]) -> list[Entry]:
        return self.save_catalog([Entry.of(p) for p in papers], {p.id: p for p in papers})

    def save_catalog(self, order: Sequence[Entry], changed: Mapping[str, Paper]) -> list[Entry]:
        with self._connect() as conn:
            generation = secrets.token_hex(8)
            # The positions this store knows are the stored ones only if no other save came since.
            stale = self._state_value(conn, "generation") != self._placed.generation
            conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES ('generation', ?)", (generation,))
            entries, written, indexed = [], [], {}
            for entry in order:
                paper = changed.get(entry.id)
                if paper is not None:
                    text, entry = encode_paper(paper)
                    written.append((paper.id, text))
                    indexed[stored_name(entry)] = paper
                entries.append(entry)
            conn.executemany("INSERT OR REPLACE INTO paper (id, data) VALUES (?, ?)", written)
            stored = {} if stale else self._placed.positions
            names = stored_names(entries)
            self._placed = _Placed(generation, _write_entries(conn, entries, names, stored))
            self._save_words(conn, generation, placing(names, entries), indexed)
        return entries

    def _save_words(
        self, conn: sqlite3.Connection, generation: str, placed: dict[str, Placing], written: dict[str, Paper]
    ) -> None:
        """The word index of this save (core.store.words), in its transaction."""
        head = WordsHead.loads(self._state_value(conn, "words"))
        members = {s: m.split("\n") for s, m in conn.execute("SELECT segment, members FROM word_segments")}
        plan = plan_words(
            generation,
            head,
            members,
            placed,
            written,
            lambda names: self._named(conn, names),
            lambda segments: _segment_postings(conn, segments),
        )
        gone = [(s,) for s in members if s not in plan.head.segments]
        conn.executemany("DELETE FROM word_postings WHERE segment = ?", gone)
        conn.executemany("DELETE FROM word_segments WHERE segment = ?", gone)
        if (segment := plan.segment) is not None:
            conn.execute(
                "INSERT INTO word_segments (segment, members) VALUES (?, ?)", (segment.name, "\n".join(segment.members))
            )
            conn.executemany(
                "INSERT INTO word_postings (segment, token, ordinals) VALUES (?, ?, ?)",
                [(segment.name, token, ordinals) for token, ordinals in segment.postings.items()],
            )
        conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES ('words', ?)", (plan.head.dumps(),))

    def load_words(self) -> WordsHead:
        with self._connect() as conn:
            head = WordsHead.loads(self._state_value(conn, "words"))
            return head if head.covering(self._state_value(conn, "generation")) else WordsHead()

    def load_postings(self, head: WordsHead, tokens: Sequence[str]) -> dict[tuple[str, str], str]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT segment, token, ordinals FROM word_postings WHERE segment IN (SELECT value FROM json_each(?))"
                " AND token IN (SELECT value FROM json_each(?))",
                (json.dumps(list(head.segments)), json.dumps(list(tokens))),
            ).fetchall()
        return {(segment, token): ordinals for segment, token, ordinals in rows}

    def load_members(self, segments: Sequence[str]) -> dict[str, tuple[str, ...]]:
        rows = self._read_keyed("word_segments", "segment", segments, "members")
        return {segment: tuple(members.split("\n")) for segment, members in rows}

    def load_entries(self, names: Sequence[str]) -> dict[str, Entry]:
        with self._connect() as conn:
            return _entries_named(conn, names)

    def load_named(self, names: Sequence[str]) -> dict[str, Paper]:
        with self._connect() as conn:
            return self._named(conn, names)

    def _named(self, conn: sqlite3.Connection, names: Sequence[str]) -> dict[str, Paper]:
        """The stored papers of these names: SQLite keeps one version of each id, so a name of
        another version (a reader racing a save) finds nothing rather than the one stored."""
        current = {e.id: name for name, e in _entries_named(conn, names).items()}
        rows = _select_in(conn, "SELECT id, data FROM paper WHERE id IN ({})", sorted(current))
        return {current[p.id]: p for p in decode_papers(data for _, data in rows)}

    @staticmethod
    def _state_value(conn: sqlite3.Connection, key: str) -> str | None:
        row = conn.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def load_index(self) -> list[Entry]:
        with self._connect() as conn:
            # The generation first: a save between the two reads leaves it older than the rows,
            # and the next save then writes the set whole rather than trust these positions.
            generation = self._state_value(conn, "generation")
            rows = conn.execute("SELECT position, id, entry FROM entries ORDER BY position").fetchall()
            decoded = decode_entries([raw for _, _, raw in rows])
            # records.stored_name, without 60,000 calls; an unreadable entry's row is known by a
            # name no entry has, so that the next save replaces it
            named = zip(rows, decoded, strict=True)
            self._placed = _Placed(generation, {f"{e.id}@{e.digest}" if e else f"{i}@?": at for (at, i, _), e in named})
            unreadable = [i for (_, i, _), e in zip(rows, decoded, strict=True) if e is None]
            if not unreadable:
                return cast(list[Entry], decoded)
            # An entry that cannot be read is made again from its paper.
            whole = {p.id: encode_paper(p)[1] for p in self._whole(conn, unreadable)}
            return [e or whole[i] for (_, i, _), e in zip(rows, decoded, strict=True) if e is not None or i in whole]

    def load_whole(self, entries: Sequence[Entry]) -> list[Paper]:
        with self._connect() as conn:
            return self._whole(conn, [e.id for e in entries])

    def _whole(self, conn: sqlite3.Connection, ids: Sequence[str]) -> list[Paper]:
        found = dict(_select_in(conn, "SELECT id, data FROM paper WHERE id IN ({})", ids))
        return decode_papers(found.get(i) for i in ids)

    def load_papers(self, feed: str | None = None, limit: int | None = None) -> list[Paper]:
        with self._connect() as conn:
            return self._papers(conn, feed, limit)

    def load_feed(self, feed: str | None = None, limit: int | None = None) -> tuple[RefreshState, list[Paper], str]:
        with self._connect() as conn:  # one transaction: the state, papers and version agree
            generation, state, feedback = self._version_rows(conn)
            return decode_state(state), self._papers(conn, feed, limit), version_of(generation, state, feedback)

    def _papers(self, conn: sqlite3.Connection, feed: str | None, limit: int | None) -> list[Paper]:
        cap = -1 if limit is None else limit
        if feed is None:
            rows = conn.execute(
                "SELECT p.data FROM entries e JOIN paper p ON p.id = e.id ORDER BY e.position LIMIT ?", (cap,)
            ).fetchall()
        else:
            rows = conn.execute(
                "SELECT p.data FROM paper_feeds f JOIN paper p ON p.id = f.id WHERE f.feed = ?"
                " ORDER BY f.position LIMIT ?",
                (feed, cap),
            ).fetchall()
        return decode_papers(data for (data,) in rows)

    def load_status(self) -> tuple[RefreshState, int]:
        with self._connect() as conn:
            return self._state(conn), int(conn.execute("SELECT count(*) FROM entries").fetchone()[0])

    def load_version(self) -> str:
        with self._connect() as conn:
            return version_of(*self._version_rows(conn))

    @staticmethod
    def _version_rows(conn: sqlite3.Connection) -> tuple[str | None, str | None, str | None]:
        keys = "('generation', 'refresh', 'feedback_version')"
        rows = dict(conn.execute(f"SELECT key, value FROM state WHERE key IN {keys}").fetchall())
        return rows.get("generation"), rows.get("refresh"), rows.get("feedback_version")

    def load_state(self) -> RefreshState:
        with self._connect() as conn:
            return self._state(conn)

    def _state(self, conn: sqlite3.Connection) -> RefreshState:
        row = conn.execute("SELECT value FROM state WHERE key = 'refresh'").fetchone()
        return decode_state(row[0] if row else None)

    def save_state(self, state: RefreshState) -> None:
        with self._connect() as conn:
            conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES ('refresh', ?)", (state.model_dump_json(),))

    def load_summaries(self, keys: Sequence[str]) -> dict[str, Summary]:
        rows = self._read_keyed("summaries", "key", keys)
        return {key: summary for key, data in rows if (summary := decode_summary(data)) is not None}

    def save_summaries(self, summaries: Mapping[str, Summary]) -> None:
        self._write_keyed("summaries", "key", [(key, s.model_dump_json()) for key, s in summaries.items()])

    def load_liked(self, ids: Sequence[str]) -> dict[str, Paper]:
        rows = self._read_keyed("liked", "id", ids)
        return {key: paper for key, data in rows if (paper := decode_paper(data)) is not None}

    def save_liked(self, papers: Sequence[Paper]) -> None:
        self._write_keyed("liked", "id", [(p.id, p.model_dump_json()) for p in papers])

    def load_liked_set(self) -> LikedSet:
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM state WHERE key = 'liked_set'").fetchone()
        return decode_liked_set(row[0] if row else None)

    def save_liked_set(self, liked: LikedSet) -> None:
        kept = json.dumps([*liked.ids, *liked.requested])
        with self._connect() as conn:  # one transaction: the set and its papers agree
            conn.execute(
                "INSERT OR REPLACE INTO state (key, value) VALUES ('liked_set', ?)", (liked.model_dump_json(),)
            )
            conn.execute("DELETE FROM liked WHERE id NOT IN (SELECT value FROM json_each(?))", (kept,))

    def add_pending_likes(self, ids: Sequence[str], cap: int) -> None:
        now = time.time()
        with self._connect() as conn:
            conn.executemany("INSERT OR REPLACE INTO pending_likes (id, asked) VALUES (?, ?)", [(i, now) for i in ids])
            conn.execute(
                "DELETE FROM pending_likes WHERE id NOT IN"
                " (SELECT id FROM pending_likes ORDER BY asked DESC, rowid DESC LIMIT ?)",
                (cap,),
            )

    def load_pending_likes(self) -> list[str]:
        with self._connect() as conn:
            return [row[0] for row in conn.execute("SELECT id FROM pending_likes ORDER BY asked DESC, rowid DESC")]

    def drop_pending_likes(self, ids: Sequence[str]) -> None:
        with self._connect() as conn:
            conn.executemany("DELETE FROM pending_likes WHERE id = ?", [(i,) for i in ids])

    def load_vectors(self, keys: Sequence[str]) -> dict[str, str]:
        return dict(self._read_keyed("vectors", "key", keys))

    def save_vectors(self, vectors: Mapping[str, str]) -> None:
        self._write_keyed("vectors", "key", list(vectors.items()))

    def _read_keyed(self, table: str, column: str, keys: Sequence[str], data: str = "data") -> list[tuple[str, str]]:
        """The (key, data) rows of a key-value table (summaries, liked, vectors) for ``keys``."""
        with self._connect() as conn:
            return _select_in(conn, f"SELECT {column}, {data} FROM {table} WHERE {column} IN ({{}})", keys)

    def _write_keyed(self, table: str, column: str, rows: Sequence[tuple[str, str]]) -> None:
        with self._connect() as conn:
            conn.executemany(f"INSERT OR REPLACE INTO {table} ({column}, data) VALUES (?, ?)", rows)

    def add_usage(self, day: str, calls: int, tokens: int) -> tuple[int, int]:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO usage (day, calls, tokens) VALUES (?, ?, ?) ON CONFLICT (day) DO UPDATE"
                " SET calls = calls + excluded.calls, tokens = tokens + excluded.tokens",
                (day, calls, tokens),
            )
            row = conn.execute("SELECT calls, tokens FROM usage WHERE day = ?", (day,)).fetchone()
        return int(row[0]), int(row[1])

    def acquire_lock(self, owner: str, ttl_s: float) -> bool:
        now = time.time()
        with self._connect() as conn:
            # An expired lock goes; so does the owner's own (taking it again renews it).
            conn.execute("DELETE FROM locks WHERE name = 'refresh' AND (expires < ? OR owner = ?)", (now, owner))
            cursor = conn.execute(
                "INSERT OR IGNORE INTO locks (name, owner, expires) VALUES ('refresh', ?, ?)", (owner, now + ttl_s)
            )
            return cursor.rowcount == 1

    def release_lock(self, owner: str) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM locks WHERE name = 'refresh' AND owner = ?", (owner,))

    def lock_holder(self) -> str | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT owner FROM locks WHERE name = 'refresh' AND expires >= ?", (time.time(),)
            ).fetchone()
        return str(row[0]) if row else None

    def load_zotero(self) -> ZoteroLibrary:
        with self._connect() as conn:
            row = conn.execute("SELECT value FROM state WHERE key = 'zotero'").fetchone()
        return decode_zotero(row[0] if row else None)

    def save_zotero(self, library: ZoteroLibrary) -> None:
        with self._connect() as conn:
            conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES ('zotero', ?)", (library.model_dump_json(),))

    def load_feedback(self) -> Feedback:
        with self._connect() as conn:
            rows = dict(conn.execute("SELECT key, value FROM state WHERE key IN ('feedback', 'feedback_version')"))
        # The version is the one written beside it, even when the record cannot be read.
        return decode_feedback(rows.get("feedback")).but(version=rows.get("feedback_version", ""))

    def save_feedback(self, feedback: Feedback, replaces: str) -> bool:
        with self._connect() as conn:  # IMMEDIATE: no other save between the check and the write
            row = conn.execute("SELECT value FROM state WHERE key = 'feedback_version'").fetchone()
            if (row[0] if row else "") != replaces:
                return False
            conn.executemany(
                "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
                [("feedback", feedback.model_dump_json()), ("feedback_version", feedback.version)],
            )
            return True


def _write_entries(
    conn: sqlite3.Connection, entries: Sequence[Entry], names: Sequence[str], stored: Mapping[str, int]
) -> dict[str, int]:
    """The ranked set, in this order, named ``names``, in place of the one ``stored`` (each
    entry's position by name; empty: unknown); returns each entry's position now. Only the rows
    of the entries placed anew are written, and only the papers gone deleted; with nothing
    ``stored``, all."""
    positions = place(names, stored)
    placed = [i for i, name in enumerate(names) if stored.get(name) != positions[i]]
    if not stored:
        conn.execute("DELETE FROM entries")
        conn.execute("DELETE FROM paper_feeds")
    else:  # the rows of entries gone or placed anew (a position may pass to another entry)
        gone = json.dumps(sorted(set(stored.values()) - (set(positions) - {positions[i] for i in placed})))
        conn.execute("DELETE FROM entries WHERE position IN (SELECT value FROM json_each(?))", (gone,))
        conn.execute("DELETE FROM paper_feeds WHERE position IN (SELECT value FROM json_each(?))", (gone,))
    conn.executemany(
        "INSERT INTO entries (position, id, entry) VALUES (?, ?, ?)",
        [(positions[i], entries[i].id, encode_entry(entries[i])) for i in placed],
    )
    conn.executemany(
        "INSERT INTO paper_feeds (feed, position, id) VALUES (?, ?, ?)",
        [(feed, positions[i], entries[i].id) for i in placed for feed in entries[i].listed_in],
    )
    now = dict(zip(names, positions, strict=True))
    if not stored:
        conn.execute("DELETE FROM paper WHERE id NOT IN (SELECT id FROM entries)")
    else:
        # A paper whose stored version is gone and still listed has a version placed anew.
        dropped = {name.rpartition("@")[0] for name in stored.keys() - now.keys()} - {entries[i].id for i in placed}
        conn.executemany("DELETE FROM paper WHERE id = ?", [(i,) for i in dropped])
    return now


def _entries_named(conn: sqlite3.Connection, names: Sequence[str]) -> dict[str, Entry]:
    """The entries of these stored versions by name; absent where the version stored is
    another (SQLite keeps one version of an id: a reader racing a save asks for the older)."""
    ids = {name.rpartition("@")[0]: name for name in names}
    rows = _select_in(conn, "SELECT id, entry FROM entries WHERE id IN ({})", list(ids))
    found = zip([i for i, _ in rows], decode_entries([raw for _, raw in rows]), strict=True)
    return {ids[i]: e for i, e in found if e is not None and stored_name(e) == ids[i]}


def _segment_postings(conn: sqlite3.Connection, segments: Sequence[str]) -> dict[str, dict[str, str]]:
    """Every posting of these word index segments, by segment and token."""
    query = "SELECT token, ordinals FROM word_postings WHERE segment = ?"  # the key begins with it: a range
    return {segment: dict(conn.execute(query, (segment,)).fetchall()) for segment in segments}


def _select_in(conn: sqlite3.Connection, query: str, keys: Sequence[str]) -> list[tuple[str, str]]:
    """The rows of ``query`` (whose ``IN ({})`` takes the keys) for every key, 500 at a time
    (SQLite caps the number of bound parameters)."""
    rows: list[tuple[str, str]] = []
    for start in range(0, len(keys), 500):
        part = keys[start : start + 500]
        rows += conn.execute(query.format(",".join("?" * len(part))), part).fetchall()
    return rows


def _migrate_positions(conn: sqlite3.Connection) -> None:
    """Stores before entries kept papers with their position in ``papers``: move them into
    ``paper`` and ``entries``, once."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'papers'").fetchone():
        return
    with conn:
        rows = conn.execute("SELECT id, data FROM papers ORDER BY position").fetchall()
        papers = decode_papers(data for _, data in rows)
        conn.executemany("INSERT OR REPLACE INTO paper (id, data) VALUES (?, ?)", rows)
        entries = [encode_paper(p)[1] for p in papers]
        _write_entries(conn, entries, stored_names(entries), {})
        conn.execute("DROP TABLE papers")

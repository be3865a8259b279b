"""The embedded store: one SQLite file under DATA_DIR, the local default.

Papers are stored whole as JSON with their position in the ranked set; ``paper_feeds`` lists
the followed categories each paper appears under. WAL mode lets feed requests read while the
refresh writes, and every write happens in one transaction.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

from core.errors import StoreError
from core.models import Paper, RefreshState, Summary
from core.store import version_of
from core.store.records import decode_paper, decode_papers, decode_state, decode_summary

_SCHEMA = """
CREATE TABLE IF NOT EXISTS papers (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS papers_position ON papers (position);
CREATE TABLE IF NOT EXISTS paper_feeds (
    feed TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (feed, position)
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS summaries (key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS liked (id TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS usage (day TEXT PRIMARY KEY, calls INTEGER NOT NULL, tokens INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);
"""


class SqliteStore:
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False
        # One connection per thread, kept: opening one per request cost a third of a cached
        # feed's time. (sqlite3 connections must stay on the thread that made them.)
        self._local = threading.local()
        self._setup = threading.Lock()  # the first connection creates the tables, once

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

    def save_papers(self, papers: Sequence[Paper]) -> None:
        with self._connect() as conn:
            conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES ('generation', ?)", (secrets.token_hex(8),))
            conn.execute("DELETE FROM papers")
            conn.execute("DELETE FROM paper_feeds")
            conn.executemany(
                "INSERT INTO papers (id, position, data) VALUES (?, ?, ?)",
                [(p.id, i, p.model_dump_json()) for i, p in enumerate(papers)],
            )
            conn.executemany(
                "INSERT INTO paper_feeds (feed, position, id) VALUES (?, ?, ?)",
                [(feed, i, p.id) for i, p in enumerate(papers) for feed in p.listed_in],
            )

    def load_papers(self, feed: str | None = None, limit: int | None = None) -> list[Paper]:
        with self._connect() as conn:
            return self._papers(conn, feed, limit)

    def load_feed(self, feed: str | None = None, limit: int | None = None) -> tuple[RefreshState, list[Paper], str]:
        with self._connect() as conn:  # one transaction: the state, papers and version agree
            generation, state = self._version_rows(conn)
            return decode_state(state), self._papers(conn, feed, limit), version_of(generation, state)

    def _papers(self, conn: sqlite3.Connection, feed: str | None, limit: int | None) -> list[Paper]:
        cap = -1 if limit is None else limit
        if feed is None:
            rows = conn.execute("SELECT data FROM papers ORDER BY position LIMIT ?", (cap,)).fetchall()
        else:
            rows = conn.execute(
                "SELECT p.data FROM paper_feeds f JOIN papers p ON p.id = f.id WHERE f.feed = ?"
                " ORDER BY f.position LIMIT ?",
                (feed, cap),
            ).fetchall()
        return decode_papers(data for (data,) in rows)

    def load_status(self) -> tuple[RefreshState, int]:
        with self._connect() as conn:
            return self._state(conn), int(conn.execute("SELECT count(*) FROM papers").fetchone()[0])

    def load_version(self) -> str:
        with self._connect() as conn:
            return version_of(*self._version_rows(conn))

    @staticmethod
    def _version_rows(conn: sqlite3.Connection) -> tuple[str | None, str | None]:
        rows = dict(conn.execute("SELECT key, value FROM state WHERE key IN ('generation', 'refresh')").fetchall())
        return rows.get("generation"), rows.get("refresh")

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

    def load_vectors(self, keys: Sequence[str]) -> dict[str, str]:
        return dict(self._read_keyed("vectors", "key", keys))

    def save_vectors(self, vectors: Mapping[str, str]) -> None:
        self._write_keyed("vectors", "key", list(vectors.items()))

    def _read_keyed(self, table: str, column: str, keys: Sequence[str]) -> list[tuple[str, str]]:
        """The (key, data) rows of a key-value table (summaries, liked, vectors) for ``keys``."""
        rows: list[tuple[str, str]] = []
        with self._connect() as conn:
            for start in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                rows += conn.execute(f"SELECT {column}, data FROM {table} WHERE {column} IN ({marks})", part).fetchall()
        return rows

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

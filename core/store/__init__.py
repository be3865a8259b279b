"""Where papers and refresh state live: one small interface, one module per backend.

Only this package knows SQLite (local default) or Upstash Redis (on Vercel). The refresh job
is the single writer; feed requests only read, with one or two round trips each.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from core.models import Paper, RefreshState
from core.settings import Settings


class Store(Protocol):
    name: str

    def ping(self) -> None:
        """Raise StoreError when the store cannot be reached."""

    def save_papers(self, papers: Sequence[Paper], keep_since: datetime | None = None) -> None:
        """Insert or replace papers by id, then drop papers announced before keep_since; all or nothing."""

    def load_papers(self, feed: str | None = None) -> list[Paper]:
        """The papers listed under a followed category (all papers for None), best first."""

    def load_paper(self, paper_id: str) -> Paper | None: ...

    def count_papers(self) -> int: ...

    def load_state(self) -> RefreshState: ...

    def save_state(self, state: RefreshState) -> None: ...

    def acquire_lock(self, owner: str, ttl_s: float) -> bool:
        """Take the refresh lock unless someone else holds an unexpired one."""

    def release_lock(self, owner: str) -> None:
        """Release the lock if (and only if) ``owner`` holds it."""


def open_store(settings: Settings) -> Store:
    from core.store.sqlite import SqliteStore

    return SqliteStore(settings.data_dir / "arxiv-rss-bot.sqlite3")

"""What every route reads: the settings and config (parsed once, at start), the store, and
this instance's caches, as one typed dependency (``ContextDep``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from core.config import Config
from core.settings import Settings
from core.store import Store
from core.web.costly import CostlyRenders
from core.web.cron import FirstVisit
from core.web.response_cache import ResponseCache, VersionCheck
from core.web.snapshot import PaperCache
from core.web.words import WordIndex


@dataclass(frozen=True)
class Context:
    settings: Settings
    config: Config
    store: Store
    cache: ResponseCache  # rendered answers, per URL and store version
    papers: PaperCache  # every stored paper, per store version
    versions: VersionCheck  # the store's version, read at most once a second
    costly: CostlyRenders
    first_visit: FirstVisit
    words: WordIndex  # what this instance read of the store's word index

    @classmethod
    def open(cls, settings: Settings, config: Config, store: Store, clock: Callable[[], float]) -> Context:
        """A context with empty caches; ``clock`` times the store's version checks."""
        versions = VersionCheck(clock=clock)
        first_visit = FirstVisit(settings, config, store, versions)
        caches = ResponseCache(), PaperCache(), versions, CostlyRenders(), first_visit, WordIndex()
        return cls(settings, config, store, *caches)


async def get_context(request: Request) -> Context:  # async: no thread-pool hop before a cached feed
    context: Context = request.app.state.ctx
    return context


ContextDep = Annotated[Context, Depends(get_context)]

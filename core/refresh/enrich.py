"""Enrichment: richer metadata from the arXiv API for the papers that pass some filter.

The RSS feed lacks a paper's primary category, its comments (pages, "Accepted at ICLR 2026",
code links), and often its journal reference and DOI. ``enrich_papers`` asks the API about the
papers still without them, a few hundred a run (``core.arxiv.api``: batched ``id_list``
requests through the run's ``ArxivClient``). A batch that still fails only means its papers go
without: the refresh never fails because of enrichment.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.arxiv.api import fetch_by_ids
from core.arxiv.client import ArxivClient
from core.models import Paper

log = logging.getLogger(__name__)


def enrich_papers(
    papers: list[Paper], wanted: Sequence[Paper], client: ArxivClient, api_base: str, limit: int
) -> list[Paper]:
    """Attach metadata to the ``wanted`` papers that have none yet (at most ``limit`` a run)."""
    missing = [p.id for p in wanted if p.metadata is None][:limit]
    if not missing:
        return papers
    entries, _ = fetch_by_ids(client, api_base, missing)
    asked = set(missing)
    found = {entry.id: entry.metadata for entry in entries if entry.id in asked}  # never another paper's
    log.info("arXiv API: metadata for %d of %d papers", len(found), len(missing))
    return [p.model_copy(update={"metadata": found[p.id]}) if p.id in found else p for p in papers]

"""Richer metadata from the arXiv API for the papers that pass some filter.

The RSS feed lacks a paper's primary category, its comments (pages, "Accepted at ICLR 2026",
code links), and often its journal reference and DOI. ``fetch_metadata`` asks the API
(``ARXIV_API_BASE``) with batched ``id_list`` requests through the run's ``ArxivClient`` (one
throttle, one retry policy for every arXiv request); ``parse_api_feed`` is pure. A batch that
still fails only means its papers go without: the refresh never fails because of enrichment.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import feedparser

from core.arxiv.client import ArxivClient
from core.errors import FetchError
from core.models import Metadata, Paper
from core.text.latex import clean_text

log = logging.getLogger(__name__)

BATCH = 100
_ID = re.compile(r"arxiv\.org/abs/(?P<id>.+?)(?:v\d+)?$")
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


def parse_api_feed(body: bytes) -> dict[str, Metadata]:
    """Metadata by version-less id from an API answer; an error or empty answer gives {}."""
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    found: dict[str, Metadata] = {}
    for entry in parsed.entries:
        match = _ID.search(entry.get("id", ""))
        if match is None or entry.get("title") == "Error":
            continue
        found[match["id"]] = entry_metadata(entry)
    return found


def entry_metadata(entry: Any) -> Metadata:
    """The metadata of one API entry (a feedparser entry)."""
    comment = clean_text(entry.get("arxiv_comment", "")) or None
    primary = entry.get("arxiv_primary_category", {})
    return Metadata(
        primary_category=primary.get("term") if isinstance(primary, dict) else None,
        comment=comment,
        journal_ref=clean_text(entry.get("arxiv_journal_ref", "")) or None,
        doi=entry.get("arxiv_doi") or None,
        venue=find_venue(comment or ""),
        code_links=[link.rstrip(".") for link in _CODE.findall(comment or "")],
    )


def find_venue(comment: str) -> str | None:
    """ "Accepted at ICLR 2026" -> "ICLR 2026"; a bare "ISAAC 2024" is recognised too."""
    if (match := _VENUE.search(comment)) is not None:
        return match["venue"].strip()[:100]
    if (match := _CONFERENCE.search(comment)) is not None:
        return match["venue"].strip()
    return None


def fetch_metadata(client: ArxivClient, api_base: str, ids: Sequence[str]) -> dict[str, Metadata]:
    """Ask the API about ``ids`` in batches; a batch that fails is logged and skipped."""
    found: dict[str, Metadata] = {}
    for start in range(0, len(ids), BATCH):
        batch = list(ids[start : start + BATCH])
        params = {"id_list": ",".join(batch), "max_results": str(len(batch))}
        try:
            response = client.get(api_base, params=params)
        except FetchError as exc:
            log.warning("arXiv API: %s; %d papers go without metadata", exc.message, len(batch))
            continue
        found.update(parse_api_feed(response.body))
    return found


def enrich_papers(
    papers: list[Paper], wanted: Sequence[Paper], client: ArxivClient, api_base: str, limit: int
) -> list[Paper]:
    """Attach metadata to the ``wanted`` papers that have none yet (at most ``limit`` a run)."""
    missing = [p.id for p in wanted if p.metadata is None][:limit]
    if not missing:
        return papers
    found = fetch_metadata(client, api_base, missing)
    log.info("arXiv API: metadata for %d of %d papers", len(found), len(missing))
    return [p.model_copy(update={"metadata": found[p.id]}) if p.id in found else p for p in papers]

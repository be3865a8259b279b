"""The stages after ranking, each ``(catalog, run) -> what it did``: the arXiv API's metadata,
cached summaries, the liked papers and the for-you matches.

A stage reads whole only the papers it needs (``Catalog.whole``) and hands back the ones it
changed (``Catalog.update``). None of them fails a refresh: what goes wrong is said in the
state (the likes' message) or the log, and the feeds are served without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from core.arxiv.client import ArxivClient
from core.config import Config, bibtex_path
from core.models import LikesState, Paper
from core.refresh import likes
from core.refresh.catalog import Catalog
from core.refresh.enrich import enrich_papers
from core.selection.topics import shown_ids
from core.settings import Settings
from core.store import Store
from core.summarize.pipeline import attach_cached, summary_candidates
from core.zotero import ZoteroSync, sync

log = logging.getLogger(__name__)

ENRICH_LIMIT = 300  # papers asked of the arXiv API per refresh (3 requests, 3 s apart)
RESERVE_FOR_SAVING_S = 30.0  # of the run's deadline, kept for saving and summaries after embeddings


@dataclass(frozen=True)
class Run:
    """What every stage of one refresh works with."""

    config: Config
    settings: Settings
    store: Store
    client: ArxivClient
    now: datetime


def enrich(catalog: Catalog, run: Run) -> None:
    """Metadata from the arXiv API for the papers some feed shows (config.json's or a topic's)."""
    shown = catalog.entries(shown_ids(catalog.order, run.config))
    wanted = catalog.whole([e.id for e in shown if not e.enriched][:ENRICH_LIMIT])
    catalog.update(enrich_papers(wanted, wanted, run.client, run.settings.arxiv_api_base, ENRICH_LIMIT))


def attach_summaries(catalog: Catalog, config: Config, store: Store) -> None:
    """The summaries already cached for the papers that may be summarised (read whole)."""
    catalog.update(attach_cached(catalog.whole(summary_candidates(catalog.order, config)), config, store))


def resolve_likes(catalog: Catalog, run: Run) -> tuple[LikesState, list[Paper]]:
    """Resolve the liked papers (config.json's ids, its topics', the BibTeX file's) and the ids
    readers' ``?like=`` asked for, and keep them in the store's liked papers (the for-you
    feeds and ``?like=`` read them by id; every other liked paper is deleted); returns the
    state's record of them, and the liked papers."""
    config, store = run.config, run.store
    try:
        path = bibtex_path(config, run.settings.config_path)
        refs = likes.bibtex_refs(path.read_text()) if config.like_bibtex else []
    except (OSError, UnicodeError, ValueError) as exc:  # the feeds go on; the page and /health say why
        log.warning("likes: %s cannot be read: %s", config.like_bibtex, exc)
        return LikesState(message=f"{config.like_bibtex} cannot be read: {exc}"), []
    synced = _sync_zotero(run)
    ids = [*config.liked_ids, *(r.arxiv for r in refs if r.arxiv), *synced.ids]
    previous = store.load_liked_set()
    pending = [i for i in store.load_pending_likes() if i not in ids]
    asked = list(dict.fromkeys([*ids, *pending]))
    found = likes.known(asked, catalog.whole(asked), store)
    api = run.settings.arxiv_api_base
    resolved = likes.resolve(asked, found, store, run.client, api, config.categories) if asked else likes.Resolved()
    by_id = {p.id: p for p in resolved.papers}
    texts = [*(r.as_paper() for r in refs if not r.arxiv), *synced.papers]  # liked by their title and abstract
    liked = [*(by_id[i] for i in dict.fromkeys(ids) if i in by_id), *texts]
    kept = likes.next_liked_set([p.id for p in liked], pending, resolved, previous)
    store.save_liked([*liked, *(by_id[i] for i in pending if i in by_id)])
    store.save_liked_set(kept)
    store.drop_pending_likes([i for i in pending if i not in resolved.unanswered])
    configured = set(ids)
    missing = [i for i in resolved.missing if i in configured]
    problem = f"Zotero: {synced.error}" if synced.error else ""
    if not liked and not missing and not problem:
        return LikesState(), []
    message = "; ".join(filter(None, [f"{len(liked)} liked papers", synced.note]))
    if cut := sum(1 for r in refs if r.cut):
        message += f"; {cut} BibTeX entries had a field over its size cap, cut to it"
    if missing:
        more = " ..." if len(missing) > 5 else ""
        message += f"; arXiv has no paper {', '.join(missing[:5])}{more}"
    return LikesState(count=len(liked), missing=missing[:20], message=message, problem=problem), liked


def _sync_zotero(run: Run) -> ZoteroSync:
    """config.json's Zotero library brought up to date (nothing when none is followed). A
    failure is in the result, never raised: the likes are then the last good sync's."""
    if run.config.zotero is None:
        return ZoteroSync()
    return sync(run.config.zotero, run.settings, run.store, run.now, run.client.deadline, clock=run.client.clock)


def match_for_you(
    catalog: Catalog, run: Run, liking: LikesState, liked: list[Paper], previous: LikesState
) -> LikesState:
    """With config.json's similarity model "embeddings": each paper's most similar liked paper
    by embeddings, once every stored and liked paper has a vector; else the lexical model (the
    matches by embeddings are cleared), and the state says why. While the liked papers and the
    embedding model stay as the last refresh had them, only papers without a match (new or
    changed ones) are read whole and matched; otherwise every paper is."""
    config = run.config
    if config.similarity.model != "embeddings" or not liked:
        _clear_for_you(catalog)
        return liking.but(model="lexical", basis="")
    from core.refresh.embeddings import embed_papers, most_like

    model = config.similarity.embeddings
    basis = [model.base_url, model.model, model.dimensions, [p.versioned_id for p in liked]]
    digest = hashlib.sha256(json.dumps(basis).encode()).hexdigest()[:16]
    carried = previous.model == "embeddings" and previous.basis == digest
    # An entry made from a changed paper says whether that paper carries a match.
    papers = catalog.whole(e.id for e in catalog.order if not (carried and e.for_you))
    client = run.client
    stop_at = client.deadline - RESERVE_FOR_SAVING_S if client.deadline is not None else None
    embedded = embed_papers([*papers, *liked], config, run.settings, run.store, run.now, stop_at, client.clock)
    if not embedded.complete:
        log.warning("for you: lexical model, because %s", embedded.message)
        _clear_for_you(catalog)
        note = f"{liking.message}; for you: lexical model, because {embedded.message}"
        return liking.but(model="lexical", message=note, basis="")
    matched = ((p, most_like(p, liked, embedded.vectors)) for p in papers)
    catalog.update(p.model_copy(update={"for_you": similar}) for p, similar in matched if similar != p.for_you)
    note = f"{liking.message}; for you: embeddings ({model.model}, {embedded.calls} calls)"
    return liking.but(model="embeddings", message=note, basis=digest)


def _clear_for_you(catalog: Catalog) -> None:
    matched = catalog.whole(e.id for e in catalog.order if e.for_you)
    catalog.update(p.model_copy(update={"for_you": None}) for p in matched if p.for_you)

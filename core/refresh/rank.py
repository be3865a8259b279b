"""Ranking for the store: match papers against config.json and its topics, and order them.

Pure: papers (or their entries) and config.json in, the stored order out. The order is what a
default feed reads a prefix of, so it must be the feeds' own order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import TypeVar

from core import taxonomy
from core.config import Config
from core.models import Paper, Ranked
from core.selection.select import count_kept, kept_by_config
from core.selection.topics import with_topic_scores
from core.text.latex import readable
from core.text.matching import MATCHING_VERSION, Matcher

R = TypeVar("R", bound=Ranked)

# What decides which papers a topic shows, and their topic score (``Paper.topics``).
TOPIC_SELECTION = {"name", "categories", "query", "keywords", "exclude_keywords", "min_score"}


def config_hash(config: Config) -> str:
    """A digest of what decides each stored paper's match, listing and topic scores (not
    summaries), and of the matching rules themselves: a new MATCHING_VERSION matches every
    paper again."""
    decisive = config.model_dump(include={"categories", "keywords", "exclude_keywords", "announce_types", "min_score"})
    decisive["topics"] = [t.model_dump(include=TOPIC_SELECTION) for t in config.topics]
    decisive["matching"] = MATCHING_VERSION
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()[:16]


def rank_for_config(papers: Iterable[Paper], config: Config, rematch: bool = True) -> list[Paper]:
    """Match papers against config.json (and its topics) on their text as shown (LaTeX
    converted, once per paper), note the followed categories each is listed under, and order
    them for the store (``store_order``). Papers of categories no longer followed are dropped.
    With ``rematch`` off, papers that were matched already (against the same config.json) keep
    their match: only new ones cost anything.
    """
    matcher = Matcher.build(config.keywords, config.exclude_keywords)
    settled, matched = [], []
    for paper in papers:
        if not rematch and paper.settled:
            settled.append(paper)
            continue
        listed_in = [c for c in config.categories if taxonomy.listed(paper.categories, [c])]
        if listed_in:
            paper = readable(paper)
            matched.append(paper.model_copy(update={"match": matcher.match(paper), "listed_in": listed_in}))
    return store_order([*settled, *with_topic_scores(matched, config)], config)


def store_order(items: Sequence[R], config: Config, stored: Sequence[R] = ()) -> list[R]:
    """The stored order: papers config.json keeps first, then the rest; each group best first
    (highest score, then most recently announced, then newest id), so that a default feed
    request reads only a prefix of the stored list.

    ``stored``, more of them in stored order already under the same config.json (what a
    refresh carries over unchanged): the ones it keeps are found by a binary search
    (``count_kept``), not asked one by one, and sorting finds them in order."""
    kept: list[R] = []
    rest: list[R] = []
    for item in items:
        (kept if kept_by_config(item, config) else rest).append(item)
    split = count_kept(stored, config)
    kept += stored[:split]
    rest += stored[split:]
    best_first = attrgetter("score", "announced", "id")  # one call in C per item, not a lambda's
    return [*sorted(kept, key=best_first, reverse=True), *sorted(rest, key=best_first, reverse=True)]

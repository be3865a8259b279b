"""Topics: named feeds with their own categories and query (config.json ``topics``).

Pure: a topic and the stored papers in, the topic's feed query and papers out. The plain
``keywords`` of config.json stay the default feeds; topics add feeds next to them.
"""

from __future__ import annotations

from collections.abc import Sequence

from core import taxonomy
from core.config import Config, Topic
from core.errors import NotFoundError
from core.models import Paper, Ranked
from core.selection.query import NO_FILTERS, FeedQuery
from core.selection.select import Likeness, count_kept, possible_ids, select_papers
from core.text.matching import TextIndex


def find_topic(config: Config, name: str) -> Topic:
    for topic in config.topics:
        if topic.name == name:
            return topic
    raise NotFoundError(
        f"there is no topic {name!r}", "use one of the topics listed", topics=[t.name for t in config.topics]
    )


def topic_query(topic: Topic, request: FeedQuery = NO_FILTERS) -> FeedQuery:
    """The topic's filters, with whatever the request sets on top (its q replaces the topic's)."""
    return FeedQuery(
        keywords=request.keywords or tuple(topic.keywords),
        exclude=(*topic.exclude_keywords, *request.exclude),
        min_score=request.min_score if request.min_score is not None else topic.min_score,
        limit=request.limit or topic.max_papers,
        types=request.types,
        q=request.q if request.q is not None else topic.parsed_query,
        like=request.like or tuple(topic.like),
    )


def topic_papers(
    papers: Sequence[Paper],
    config: Config,
    topic: Topic,
    request: FeedQuery = NO_FILTERS,
    likeness: Likeness | None = None,
    index: TextIndex | None = None,
) -> list[Paper]:
    """The topic's papers; ranked with their similarity too when ``likeness`` is given (the
    topic's ``like`` list, or the request's ``?like=``)."""
    followed = topic.categories or config.categories
    query = topic_query(topic, request)
    if index is not None and (possible := possible_ids(query, config, index)) is not None:
        papers = index.among(papers, possible)  # the categories of these alone are looked at
    inside = [p for p in papers if taxonomy.listed(p.categories, followed)]
    return select_papers(inside, config, query, likeness, index)


def with_topic_scores(papers: Sequence[Paper], config: Config) -> list[Paper]:
    """Each paper with the score of every topic whose feed shows it (``Paper.topics``), so the
    refresh knows what each topic shows from the entries alone (``shown_ids``)."""
    scores: dict[str, dict[str, float]] = {p.id: {} for p in papers}
    everything = FeedQuery(limit=max(len(papers), 1))
    for topic in config.topics:
        for shown in topic_papers(papers, config, topic, everything):
            scores[shown.id][topic.name] = shown.match.score
    return [p if p.topics == scores[p.id] else p.model_copy(update={"topics": scores[p.id]}) for p in papers]


def shown_ids(
    papers: Sequence[Ranked], config: Config, per_feed: int | None = None, summarised_only: bool = False
) -> list[str]:
    """The papers some default feed shows, each once, best first: config.json's own, then each
    topic's (only the topics with ``summary: true`` when ``summarised_only``), the first
    ``per_feed`` of each. ``papers`` (or their entries) are in stored order, topic scores set."""
    kept = count_kept(papers, config)
    chosen = [p.id for p in papers[: kept if per_feed is None else min(kept, per_feed)]]
    for topic in config.topics:
        if topic.summary or not summarised_only:
            scored = [(s, p.announced, p.id) for p in papers if (s := p.topics.get(topic.name)) is not None]
            cut = min(n for n in (topic.max_papers or config.max_papers, per_feed) if n)
            chosen += [i for _, _, i in sorted(scored, reverse=True)[:cut]]
    return list(dict.fromkeys(chosen))


def unique_by_id(papers: Sequence[Paper]) -> list[Paper]:
    """Each paper once, where it first appears."""
    first: dict[str, Paper] = {}
    for paper in papers:
        first.setdefault(paper.id, paper)
    return list(first.values())

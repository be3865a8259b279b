"""core.selection.indexed: a feed found through the word index is the feed selected from every
stored paper, read from a fraction of them."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import parse_config
from core.models import Entry, Metadata, Paper
from core.selection.indexed import Placed, find, search_of
from core.selection.query import FeedQuery
from core.selection.select import as_seen_in, select_papers
from core.selection.topics import topic_papers, topic_query
from core.store.records import encode_paper, stored_name
from core.text.words import build_segment, decode, followed_tokens


class MemoryReader:
    """The word index of ``papers`` in segments of ``size``, read from memory (what the store
    reads is tested in tests/web/test_words.py); counts the papers read whole."""

    def __init__(self, papers: Sequence[Paper], size: int = 400) -> None:
        entries = [encode_paper(p)[1] for p in papers]
        named = [(stored_name(e), p) for e, p in zip(entries, papers, strict=True)]
        self.segments = [build_segment(f"s{n}", named[i : i + size]) for n, i in enumerate(range(0, len(named), size))]
        self.by_name = {n: (e, p) for (n, p), e in zip(named, entries, strict=True)}
        self.read = 0

    @property
    def categories(self) -> list[str]:
        return sorted({c for s in self.segments for c in s.categories})

    def postings(self, tokens: Sequence[str]) -> dict[str, set[int]]:
        return {
            t: {(n << 32) + o for n, s in enumerate(self.segments) if t in s.postings for o in decode(s.postings[t])}
            for t in tokens
        }

    def holding_any(self, tokens: Sequence[str]) -> set[int]:
        return set().union(*self.postings(tokens).values())

    def names(self, keys: Iterable[int]) -> dict[int, str]:
        return {k: self.segments[k >> 32].members[k & 0xFFFFFFFF] for k in keys}

    def placed(self, keys: Iterable[int]) -> list[Placed]:
        return [Placed(k, k >> 32, datetime.fromisoformat(self.segments[k >> 32].newest)) for k in keys]

    def entries(self, names: Sequence[str]) -> dict[str, Entry]:
        return {n: self.by_name[n][0] for n in names}

    def papers(self, names: Sequence[str]) -> dict[str, Paper]:
        self.read += len(names)
        return {n: self.by_name[n][1] for n in names}


@pytest.fixture(scope="module")
def day() -> list[Paper]:
    """The recorded day (1,504 papers of every archive), as a refresh stores it."""
    from core.arxiv.rss import parse_feed
    from core.refresh.rank import rank_for_config
    from tests.arxiv_fake import COMBINED, read

    config = parse_config({"categories": ["cs", "math", "physics", "stat", "eess", "q-bio", "astro-ph", "cond-mat"]})
    return rank_for_config(parse_feed(read(COMBINED)).papers, config)


CONFIG = parse_config(
    {
        "categories": ["cs.AI", "cs.CL", "cs.LG", "cs.CV", "math", "stat"],
        "keywords": ["LLM"],
        "max_papers": 30,
        "min_score": 1,
    }
)
REQUESTS: list[dict[str, Any]] = [
    {"q": "abs:agent OR ti:diffusion"},
    {"q": "ti:image OR abs:segmentation", "limit": 5},
    {"q": 'abs:"language model" OR au:smith', "limit": 200},
    {"q": "abs:attention ANDNOT cat:cs.CV"},
    {"q": "LLM^2 OR (diffusion AND cat:cs.LG)"},
    {"q": 'au:sedlacek OR au:"Michal Hajdusek"'},
    {"q": "learning", "type": "replace,cross"},
    {"q": "model", "min_score": 1.5, "limit": 100},
    {"q": "cat:math.AG"},
    {"keywords": "llm,agent"},
    {"keywords": "kv cache,reinforcement learning", "exclude": "survey"},
    {"keywords": "schrodinger,C++,GPT-4", "limit": 3},
    {"keywords": "neural,network", "exclude": "graph", "type": "new,replace"},
]


def _select(papers: list[Paper], query: FeedQuery, category: str | None) -> list[Paper]:
    return select_papers(as_seen_in(papers, category) if category else papers, CONFIG, query)


@pytest.mark.parametrize("category", [None, "cs.CL", "math"])
@pytest.mark.parametrize("params", REQUESTS)
def test_a_feed_found_through_the_index_is_the_feed(
    day: list[Paper], params: dict[str, Any], category: str | None
) -> None:
    query = FeedQuery.from_params(**params)
    listed = [p for p in day if category in p.listed_in] if category else day
    plain = _select(listed, query, category)
    search = search_of(query, CONFIG)
    assert search is not None
    reader = MemoryReader(day)
    within = (f"f:{category}",) if category else ()
    found = find(
        replace(search, within=within, crossed=bool(category)),
        reader,
        lambda papers: _select(papers, query, category),
    )
    assert found is not None
    assert [(p.id, p.announce_type, p.match) for p in found] == [(p.id, p.announce_type, p.match) for p in plain]
    if category is None and params.get("limit") != 200:
        assert plain  # the comparison means something
    assert reader.read <= len(day) // 2  # and only a part of the store was read whole


def test_a_narrow_query_reads_little(day: list[Paper]) -> None:
    query = FeedQuery.from_params(q="abs:agent OR ti:diffusion", limit=10)
    reader = MemoryReader(day)
    search = search_of(query, CONFIG)
    assert search is not None
    found = find(search, reader, lambda papers: select_papers(papers, CONFIG, query))
    assert found == select_papers(day, CONFIG, query)
    assert len(found or []) == 10
    assert reader.read <= 60  # of 1,504 stored: the first batch and the ties at its edge


def test_a_topic_found_through_the_index_is_the_topic(day: list[Paper]) -> None:
    config = parse_config(
        {
            **CONFIG.model_dump(mode="json", exclude_defaults=True),
            "topics": [
                {"name": "vision", "categories": ["cs.CV"], "query": "ti:image OR abs:segmentation"},
                {"name": "math", "categories": ["math"], "keywords": ["curve", "prime"], "min_score": 1},
            ],
        }
    )
    for topic in config.topics:
        for request in (FeedQuery(), FeedQuery.from_params(q="abs:method", limit=7)):
            plain = topic_papers(day, config, topic, request)
            search = search_of(topic_query(topic, request), config)
            assert search is not None
            reader = MemoryReader(day)
            within = followed_tokens(topic.categories, reader.categories)
            found = find(
                replace(search, within=within),
                reader,
                lambda papers, t=topic, r=request: topic_papers(papers, config, t, r),
            )
            assert found == plain, (topic.name, request)
            assert plain


@pytest.mark.parametrize(
    "params",
    [
        {"q": "ti:βeta"},  # no ASCII needle: every paper may hold it
        {"q": "agent OR ti:βeta"},
        {"keywords": "graph", "min_score": 0.0},  # a paper with no keyword may show
        {"min_score": 2.0},  # the stored scores alone
        {"like": "2411.17775"},  # ranked by similarity
    ],
)
def test_what_the_index_cannot_narrow_is_left_to_the_whole_store(day: list[Paper], params: dict[str, Any]) -> None:
    query = FeedQuery.from_params(**params)
    search = search_of(query, CONFIG)
    if search is not None:
        assert find(search, MemoryReader(day), lambda papers: papers) is None
    else:
        assert params.keys() & {"min_score", "like"}


WORDS = st.sampled_from(
    ["agent", "agents", "model", "LLM", "diffusion", "graph", "image", "learning", "quantum", "prime", "kv cache"]
)
FIELDS = st.sampled_from(["", "ti:", "abs:", "au:"])
TERMS = st.builds(lambda f, w: f + (f'"{w}"' if " " in w else w), FIELDS, WORDS)


@st.composite
def queries(draw: st.DrawFn) -> str:
    terms = draw(st.lists(TERMS, min_size=1, max_size=4))
    ops = draw(
        st.lists(st.sampled_from([" OR ", " AND ", " ANDNOT "]), min_size=len(terms) - 1, max_size=len(terms) - 1)
    )
    return terms[0] + "".join(op + term for op, term in zip(ops, terms[1:], strict=True))


@pytest.mark.slow  # Hypothesis over real data: seconds
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=queries(), limit=st.sampled_from([1, 5, 30]), min_score=st.sampled_from([None, 1.0, 2.0]))
def test_any_query_finds_what_the_whole_store_gives(
    day: list[Paper], q: str, limit: int, min_score: float | None
) -> None:
    query = FeedQuery.from_params(q=q, limit=limit, min_score=min_score)
    search = search_of(query, CONFIG)
    assert search is not None
    found = find(search, MemoryReader(day, size=700), lambda papers: select_papers(papers, CONFIG, query))
    assert found == select_papers(day, CONFIG, query)


@pytest.fixture(scope="module")
def days(day: list[Paper]) -> list[Paper]:
    """The recorded day spread over a week, ties kept (a fifth announced at the same instant as
    another), with primary categories from the arXiv API on a third: cross-lists in a
    category's feed (``as_seen_in``)."""
    rng = random.Random(28)
    spread = []
    for paper in day:
        update: dict[str, Any] = {"announced": paper.announced - timedelta(days=rng.choice([0, 0, 1, 3, 6]))}
        if rng.random() < 0.35:
            update["metadata"] = Metadata(primary_category=rng.choice([*paper.categories, "cs.AI", "math.AG"]))
        spread.append(paper.model_copy(update=update))
    return spread


@pytest.fixture(scope="module")
def segmented(days: list[Paper]) -> dict[int, MemoryReader]:
    """Readers of the week in segments of several sizes, each segment of papers of any days
    (a merged segment, a late save of old papers), so their announcements overlap."""
    shuffled = random.Random(4).sample(days, len(days))
    return {size: MemoryReader(shuffled, size=size) for size in (90, 500, 2_000)}


# Terms whose words the needle and the pattern may see differently: digits, symbols, plurals,
# hyphens, apostrophes, accents, ligatures, Turkish and Greek letters, categories and archives.
TRICKY = st.sampled_from(
    [
        "C++",
        ".NET",
        "GPT-4o",
        "GPT-4",
        "LLMs",
        "LLM",
        "analyses",
        "classes",
        "RLS",
        "RL",
        "x_1",
        "don't",
        "naïve",
        "schrodinger",
        "Schrödinger",
        "ﬁnite",
        "ı",
        "İstanbul",
        "state-of-the-art",
        "3D",
        "O(n)",
        "k-means",
        "e.g.",
        "learning",
        "model",
        "agents",
        "diffusion",
        "kv cache",
        "Transformer",
        "α",
        "large language model",
        "reinforcement learning",
        "graph",
        "quantum",
        "theorem",
        "wang",
        "li",
    ]
)
TRICKY_TERMS = st.builds(
    lambda field, word, weight: field + (f'"{word}"' if " " in word or "(" in word else word) + weight,
    st.sampled_from(["", "", "ti:", "abs:", "au:"]),
    TRICKY,
    st.sampled_from(["", "", "^0", "^2", "^2.5", "^0.3"]),
)
CATEGORY_TERMS = st.sampled_from(["cat:cs", "cat:cs.AI", "cat:math", "cat:math.AG", "cat:stat.ML", "cat:hep-th"])


@st.composite
def hard_queries(draw: st.DrawFn) -> str:
    terms = draw(st.lists(st.one_of(TRICKY_TERMS, TRICKY_TERMS, CATEGORY_TERMS), min_size=1, max_size=4))
    joins = st.sampled_from([" OR ", " OR ", " OR ", " AND ", " ANDNOT ", " "])
    ops = draw(st.lists(joins, min_size=len(terms), max_size=len(terms)))
    query = terms[0] + "".join(op + term for op, term in zip(ops, terms[1:], strict=False))
    return f"({query}){ops[-1]}{terms[0]}" if draw(st.booleans()) and ops[-1] != " " else query


@pytest.mark.slow  # Hypothesis over real data: seconds
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    q=hard_queries(),
    keywords=st.none() | st.lists(TRICKY, min_size=1, max_size=3),
    limit=st.sampled_from([1, 2, 7, 50, 200]),
    min_score=st.sampled_from([None, None, 0.0, 0.5, 1.5, 2.75]),
    types=st.sampled_from([None, None, "new", "cross", "new,cross,replace", "replace,replace-cross"]),
    category=st.sampled_from([None, None, "cs.CL", "cs.AI", "math"]),
    size=st.sampled_from([90, 500, 2_000]),
)
def test_any_hard_query_on_any_day_finds_what_the_whole_store_gives(
    days: list[Paper],
    segmented: dict[int, MemoryReader],
    q: str,
    keywords: list[str] | None,
    limit: int,
    min_score: float | None,
    types: str | None,
    category: str | None,
    size: int,
) -> None:
    """Over a week of papers with ties in score and announcement, cross-lists and segments whose
    announcements overlap: ``?q=`` or ``?keywords=`` with weights, categories, exclusions,
    types, limits and minimum scores."""
    by_keywords = {"keywords": ",".join(keywords), "exclude": "survey"} if keywords else {"q": q}
    query = FeedQuery.from_params(**by_keywords, limit=limit, min_score=min_score, type=types)
    listed = [p for p in days if category in p.listed_in] if category else days
    search = search_of(query, CONFIG)
    if search is None:
        return
    reader = segmented[size]
    within = (f"f:{category}",) if category else ()
    found = find(
        replace(search, within=within, crossed=bool(category)), reader, lambda papers: _select(papers, query, category)
    )
    if found is not None:
        assert [(p.id, p.announce_type, p.match) for p in found] == [
            (p.id, p.announce_type, p.match) for p in _select(listed, query, category)
        ]


@st.composite
def topics(draw: st.DrawFn) -> dict[str, Any]:
    """A topic of config.json: categories (or archives, or none: config.json's), a query or
    keywords, exclusions and a minimum score."""
    topic: dict[str, Any] = {
        "name": "t",
        "categories": draw(st.sampled_from([[], ["cs.CL"], ["math"], ["cs.LG", "cs.CV"], ["cs.AI", "stat"]])),
    }
    if draw(st.booleans()):
        topic["query"] = draw(hard_queries())
    else:
        topic["keywords"] = draw(st.lists(TRICKY, min_size=1, max_size=3))
    topic["exclude_keywords"] = draw(st.sampled_from([[], ["survey"], ["agents", "graph"]]))
    topic["min_score"] = draw(st.sampled_from([None, 0.5, 1.5]))
    return topic


@pytest.mark.slow  # Hypothesis over real data: seconds
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    topic=topics(),
    q=st.none() | hard_queries(),
    limit=st.sampled_from([None, 1, 9, 200]),
    types=st.sampled_from([None, None, "new,cross,replace"]),
    size=st.sampled_from([90, 2_000]),
)
def test_any_topic_found_through_the_index_is_the_topic(
    days: list[Paper],
    segmented: dict[int, MemoryReader],
    topic: dict[str, Any],
    q: str | None,
    limit: int | None,
    types: str | None,
    size: int,
) -> None:
    config = parse_config({**CONFIG.model_dump(mode="json", exclude_defaults=True), "topics": [topic]})
    (chosen,) = config.topics
    request = FeedQuery.from_params(q=q, limit=limit, type=types)
    search = search_of(topic_query(chosen, request), config)
    if search is None:
        return
    reader = segmented[size]
    within = followed_tokens(chosen.categories or config.categories, reader.categories)
    found = find(replace(search, within=within), reader, lambda papers: topic_papers(papers, config, chosen, request))
    if found is not None:
        assert found == topic_papers(days, config, chosen, request)

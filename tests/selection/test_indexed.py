"""core.selection.indexed: a feed found through the word index is the feed selected from every
stored paper, read from a fraction of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import parse_config
from core.models import Entry, Paper
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
        newest = [datetime.fromisoformat(s.newest) for s in self.segments]
        ordered = sorted(keys, key=lambda k: (newest[k >> 32], -(k >> 32), -k), reverse=True)
        return [Placed(k, k >> 32, newest[k >> 32]) for k in ordered]

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

"""core.selection.select: feed filters from config.json and query strings, ranking, limits and hostile input."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import ANNOUNCE_TYPES, parse_config
from core.errors import QueryError
from core.models import Paper
from core.refresh.rank import rank_for_config
from core.selection.query import MAX_LIMIT, TERMS_PATTERN, TYPES_PATTERN, FeedQuery, parse_terms
from core.selection.select import kept_by_config, select_papers
from core.selection.topics import topic_papers
from core.text.matching import Matcher, match_papers
from tests.papers import make_paper


def test_parse_terms_splits_commas_and_cleans_control_characters() -> None:
    assert parse_terms("keywords", " llm, kv cache ,,LLM\x00,  ") == ("llm", "kv cache", "LLM")
    assert parse_terms("keywords", None) == ()
    assert parse_terms("keywords", "") == ()


def test_parse_terms_limits() -> None:
    with pytest.raises(QueryError, match="parameter 'keywords': has 51 comma-separated terms"):
        parse_terms("keywords", ",".join(f"k{i}" for i in range(51)))
    with pytest.raises(QueryError, match="parameter 'exclude': a term is 101 characters long"):
        parse_terms("exclude", "x" * 101)


@given(st.lists(st.text(alphabet="ab ,\x00\u3000", max_size=110), max_size=55).map(",".join))
def test_parse_terms_accepts_what_the_documented_pattern_allows(raw: str) -> None:
    """TERMS_PATTERN (published in the OpenAPI schema) and parse_terms agree on every input."""
    try:
        parse_terms("keywords", raw)
        accepted = True
    except QueryError:
        accepted = False
    assert accepted == bool(re.fullmatch(TERMS_PATTERN, raw))


@given(st.lists(st.sampled_from([*ANNOUNCE_TYPES, "", " new ", "old", "new\t", "NEW"]), max_size=6).map(",".join))
def test_types_accepted_as_documented(raw: str) -> None:
    try:
        FeedQuery.from_params(type=raw)
        accepted = True
    except QueryError:
        accepted = False
    assert accepted == bool(re.fullmatch(TYPES_PATTERN, raw))


def test_feed_query_validates_types_and_caps_limit() -> None:
    query = FeedQuery.from_params(type="new,replace", limit=10_000)
    assert query.types == ("new", "replace")
    assert query.limit == MAX_LIMIT
    with pytest.raises(QueryError, match="parameter 'type': unknown announce type 'old'"):
        FeedQuery.from_params(type="new,old")


CONFIG = parse_config({"keywords": ["LLM", "agent"], "exclude_keywords": ["survey"], "max_papers": 3})


def corpus() -> list:
    papers = [
        make_paper("LLM agents that plan", id="1", announce_type="new"),
        make_paper("An agent for chess", "No language models here.", id="2", announce_type="new"),
        make_paper("Unrelated topology", id="3", announce_type="new"),
        make_paper("A survey of LLM agents", id="4", announce_type="new"),
        make_paper("LLM serving, revised", id="5", announce_type="replace"),
        make_paper("LLM cross-listed", "about an agent", id="6", announce_type="cross"),
    ]
    return match_papers(papers, Matcher.build(CONFIG.keywords, CONFIG.exclude_keywords))


def test_select_applies_config_filters_and_ranks() -> None:
    selected = select_papers(corpus(), CONFIG)
    assert [p.id for p in selected] == ["1", "6", "2"]  # 3.0, 2.5, 1.5; survey excluded; replace not wanted
    assert [p.match.score for p in selected] == [3.0, 2.5, 1.5]


def test_query_keywords_replace_config_keywords() -> None:
    selected = select_papers(corpus(), CONFIG, FeedQuery.from_params(keywords="chess"))
    assert [p.id for p in selected] == ["2"]
    assert [hit.keyword for hit in selected[0].match.hits] == ["chess"]


def test_query_exclude_adds_to_config_exclusions() -> None:
    selected = select_papers(corpus(), CONFIG, FeedQuery.from_params(exclude="plan"))
    assert [p.id for p in selected] == ["6", "2"]


def test_query_min_score_type_and_limit() -> None:
    assert [p.id for p in select_papers(corpus(), CONFIG, FeedQuery(min_score=2.6))] == ["1"]
    assert [p.id for p in select_papers(corpus(), CONFIG, FeedQuery(types=("replace",)))] == ["5"]
    assert [p.id for p in select_papers(corpus(), CONFIG, FeedQuery(limit=1))] == ["1"]


def test_without_keywords_every_paper_is_kept() -> None:
    config = parse_config({"keywords": [], "max_papers": 50})
    papers = match_papers(corpus(), Matcher.build([]))
    assert len(select_papers(papers, config)) == 5  # all but the replacement


def test_ten_kilobyte_keywords_are_handled() -> None:
    with pytest.raises(QueryError):
        FeedQuery.from_params(keywords="a" * 10_000)
    query = FeedQuery.from_params(keywords=",".join(["(.*)+"] * 40))
    assert select_papers(corpus(), CONFIG, query) == []


def test_a_paper_whose_primary_is_elsewhere_is_a_cross_list_in_this_category() -> None:
    from core.models import Metadata
    from core.selection.select import as_seen_in

    lg_primary = make_paper(id="1", categories=["cs.AI", "cs.LG"], metadata=Metadata(primary_category="cs.LG"))
    unknown = make_paper(id="2", categories=["cs.AI", "cs.LG"])
    seen = as_seen_in([lg_primary, unknown], "cs.AI")
    assert [p.announce_type for p in seen] == ["cross", "new"]
    assert [p.announce_type for p in as_seen_in([lg_primary], "cs.LG")] == ["new"]
    assert [p.announce_type for p in as_seen_in([lg_primary], "cs")] == ["new"]  # the archive covers cs.LG


def test_one_request_may_not_ask_for_unbounded_matching() -> None:
    """terms x papers is capped: 50 keywords, 50 exclusions and a 50-term query on a big store."""
    query = FeedQuery.from_params(
        keywords=",".join(f"k{n}" for n in range(50)),
        exclude=",".join(f"x{n}" for n in range(50)),
        q=" OR ".join(f"q{n}" for n in range(50)),
    )
    assert query.terms == 150
    query.check_cost(10_000)  # a week of several busy categories: fine
    with pytest.raises(QueryError, match="150 terms against 20,000 stored papers") as error:
        query.check_cost(20_000)
    assert "use at most 100 terms" in error.value.hint


# As arXiv sends them: LaTeX accents in a title and in author names.
LATEX_PAPERS = [
    make_paper(r"Parole de pr\'esidents (1958-2022)", id="1", authors=[r"\v{S}imon Sedl\'a\v{c}ek", "Jan Novak"]),
    make_paper("Presidential debates", "A corpus of speeches.", id="2", authors=["Simone Sedla"]),
    make_paper("Unrelated topology", id="3"),
]


def _ids(papers: Iterable[Paper]) -> list[str]:
    return sorted(p.id for p in papers)


@pytest.mark.parametrize("keyword", ["présidents", "presidents", "PRÉSIDENTS", "president", "pre\u0301sidents"])
def test_a_keyword_finds_the_same_papers_wherever_it_is_written(keyword: str) -> None:
    """config.json's keywords, ?keywords=, a topic's keywords, a topic's query and ?q= are one
    engine over the text as shown: accents folded either way, whole words, plurals."""
    config = parse_config(
        {
            "categories": ["cs.AI"],
            "keywords": [keyword],
            "min_score": 1,
            "topics": [{"name": "by-keywords", "keywords": [keyword]}, {"name": "by-query", "query": keyword}],
        }
    )
    papers = rank_for_config(LATEX_PAPERS, config)  # converts the LaTeX, matches config.json's keywords
    from_config = _ids(p for p in papers if kept_by_config(p, config))
    from_parameter = _ids(select_papers(papers, config, FeedQuery.from_params(keywords=keyword)))
    from_q = _ids(select_papers(papers, config, FeedQuery.from_params(q=keyword)))
    from_topics = [_ids(topic_papers(papers, config, topic)) for topic in config.topics]
    assert from_config == from_parameter == from_q == from_topics[0] == from_topics[1] == ["1"]
    excluded = select_papers(papers, config, FeedQuery.from_params(keywords="parole", exclude=keyword))
    assert excluded == []


@pytest.mark.parametrize(
    "query", ["au:sedlacek", "au:Sedláček", 'au:"Simon Sedlacek"', 'au:"Šimon Sedláček"', "au:SEDLACEK"]
)
def test_authors_match_with_or_without_accents(query: str) -> None:
    config = parse_config({"categories": ["cs.AI"], "keywords": []})
    papers = rank_for_config(LATEX_PAPERS, config)
    assert _ids(select_papers(papers, config, FeedQuery.from_params(q=query))) == ["1"]
    assert select_papers(papers, config, FeedQuery.from_params(q="au:sedl")) == []  # whole words


def test_raw_latex_is_not_what_is_matched() -> None:
    config = parse_config({"categories": ["cs.AI"], "keywords": []})
    papers = rank_for_config(LATEX_PAPERS, config)
    assert select_papers(papers, config, FeedQuery.from_params(q='ti:"pr\\\'esidents"')) == []


@pytest.fixture(scope="module")
def day() -> list[Paper]:
    """The recorded day, converted and matched as a refresh stores it (every archive)."""
    from core.arxiv.rss import parse_feed
    from tests.arxiv_fake import COMBINED, read

    config = parse_config({"categories": ["cs", "math", "physics", "stat", "eess", "q-bio", "astro-ph", "cond-mat"]})
    return rank_for_config(parse_feed(read(COMBINED)).papers, config)


INDEXED_REQUESTS = [
    {"keywords": "llm,agent"},
    {"keywords": "kv cache,reinforcement learning", "exclude": "survey"},
    {"keywords": "schrodinger,C++,GPT-4"},
    {"q": 'abs:"language model" OR au:smith'},
    {"q": "abs:attention ANDNOT cat:cs.CV"},
    {"q": 'au:sedlacek OR au:"Michal Hajdusek"'},
    {"q": "LLM^2 OR (diffusion AND cat:cs.LG)"},
    {"keywords": "graph", "min_score": 0.0},
]


@pytest.mark.parametrize("params", INDEXED_REQUESTS)
def test_the_text_index_changes_no_answer(day: list[Paper], params: dict[str, Any]) -> None:
    """Matching only the papers the version's index names gives what matching all of them does."""
    from core.text.matching import TextIndex

    config = parse_config({"categories": ["cs"], "keywords": ["LLM"], "max_papers": 500, "min_score": 1})
    query = FeedQuery.from_params(**params)  # type: ignore[arg-type]
    index = TextIndex.build(day)
    plain = select_papers(day, config, query)
    indexed = select_papers(day, config, query, index=index)
    assert [(p.id, p.match) for p in indexed] == [(p.id, p.match) for p in plain]
    assert plain  # each request finds something, so the comparison means something

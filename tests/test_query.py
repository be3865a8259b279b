"""core.query: whole-word matching, phrases, exclusions, feed filters and hostile input."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.arxiv import parse_feed
from core.config import ANNOUNCE_TYPES, parse_config
from core.errors import QueryError
from core.query import (
    MAX_LIMIT,
    TERMS_PATTERN,
    TYPES_PATTERN,
    FeedQuery,
    Matcher,
    match_papers,
    parse_terms,
    select_papers,
)
from core.terms import Term
from tests.arxiv_fake import COMBINED, read
from tests.papers import make_paper


@pytest.mark.parametrize(
    ("keyword", "text", "found"),
    [
        ("RL", "We train agents with RL and PPO.", True),
        ("RL", "A world model for the real world.", False),
        ("RL", "See the URL below.", False),
        ("RL", "Offline-RL baselines", True),
        ("kv cache", "Compressing the KV cache", True),
        ("kv cache", "KV-cache eviction", True),
        ("kv cache", "kv\ncache", True),
        ("kv-cache", "the KV cache", True),
        ("LLM", "Many LLMs agree", True),
        ("LLM", "LLMOps tooling", False),
        ("RL", "Recursive Least Squares (RLS)", False),
        ("transformer", "Vision Transformers", True),
        ("large language model", "Large Language Models (LLMs) reason", True),
        ("C++", "written in C++ for speed", True),
        ("C++", "written in C for speed", False),
        ("GPT-4", "we compare GPT 4 and GPT-4o", True),
        ("graph", "paragraphs", False),
    ],
)
def test_terms_match_whole_words_case_insensitively(keyword: str, text: str, found: bool) -> None:
    assert Term.compile(keyword).found_in(text) is found


@pytest.mark.parametrize("hostile", [".*", "(a|b", "[", "\\", "a{1000}", "^$", "?" * 50, "\x00\x1f", "é" * 100])
def test_regex_metacharacters_are_literal(hostile: str) -> None:
    """As a pattern each of these would match (or break on) ordinary text; as text, never."""
    term = Term.compile(hostile)
    assert not term.found_in("an ordinary abstract about world models")


def test_match_records_hits_where_and_score() -> None:
    matcher = Matcher.build(["LLM", "kv cache", "diffusion"])
    paper = make_paper("Fast LLM inference", "We compress the KV-cache of large LLMs.")
    match = matcher.match(paper)
    assert [(h.keyword, h.in_title, h.in_abstract) for h in match.hits] == [
        ("LLM", True, True),
        ("kv cache", False, True),
    ]
    assert match.score == 1.5 + 1.0
    assert match.excluded_by is None


def test_exclusions_mark_the_paper() -> None:
    matcher = Matcher.build(["LLM"], ["survey"])
    match = matcher.match(make_paper("A Survey of LLM agents"))
    assert match.excluded_by == "survey"
    assert match.score == 1.5  # the hits are still explained


def test_real_feed_word_boundaries() -> None:
    papers = parse_feed(read(COMBINED)).papers
    matched = match_papers(papers, Matcher.build(["RL"]))
    hits = [p for p in matched if p.match.hits]
    assert len(hits) == 15
    # Papers that only say "world" or "URL" are not RL papers.
    world_only = [p for p in matched if "world" in p.abstract.lower() and " RL" not in p.title + " " + p.abstract]
    assert world_only
    assert all(not p.match.hits for p in world_only)
    kv = [p.id for p in match_papers(papers, Matcher.build(["kv cache"])) if p.match.hits]
    assert sorted(kv) == ["2411.15785", "2411.18077", "2411.18424"]


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
    from core.query import as_seen_in

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

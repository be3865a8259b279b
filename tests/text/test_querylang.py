"""core.text.querylang: the arXiv-style query language, against real recorded papers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.arxiv.rss import parse_feed
from core.errors import QueryError
from core.models import Paper
from core.text.matching import Op, Word, evaluate
from core.text.querylang import parse_query
from core.text.scoring import score_hits
from tests.arxiv_fake import COMBINED, read
from tests.papers import make_paper

PAPERS = parse_feed(read(COMBINED)).papers


def ids(query: str) -> list[str]:
    node = parse_query(query)
    return sorted(p.id for p in PAPERS if evaluate(node, p) is not None)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('abs:"kv cache"', ["2411.15785", "2411.18077", "2411.18424"]),
        ('ti:"kv cache"', ["2411.15785", "2411.18077"]),
        ('abs:"kv cache" ANDNOT ti:"kv cache"', ["2411.18424"]),
        ('ti:"kv cache" OR ti:FastSwitch', ["2411.15785", "2411.18077", "2411.18424"]),
        ('"kv cache" AND cat:cs.DC', ["2411.18424"]),
        ('"kv cache" cat:cs.DC', ["2411.18424"]),  # juxtaposition is AND
        ("au:Erdayandi", ["2411.17758"]),
        ('au:"Kamil Erdayandi"', ["2411.17758"]),
        ('au:"Erdayandi Kamil"', []),
        ("au:kamil AND ti:energy", ["2411.17758"]),
    ],
)
def test_queries_against_real_papers(query: str, expected: list[str]) -> None:
    assert ids(query) == expected


def test_whole_words_plurals_and_hyphens() -> None:
    rl = set(ids("ti:RL OR abs:RL"))
    assert "2411.17745" not in rl  # its abstract says "RLS" (recursive least squares)
    assert len(rl) == 15
    paper = make_paper("Transformers for KV-cache eviction", "", authors=["Bernhard Schölkopf"])
    assert evaluate(parse_query('transformer AND "kv cache"'), paper) is not None
    assert evaluate(parse_query("au:scholkopf"), paper) is not None
    assert evaluate(parse_query("ti:world"), make_paper("Hello world")) is not None
    assert evaluate(parse_query("ti:RL"), make_paper("Hello world")) is None


def test_categories_and_archives() -> None:
    paper = make_paper(categories=["cs.LG", "stat.ML"])
    assert evaluate(parse_query("cat:stat.ML"), paper) is not None
    assert evaluate(parse_query("cat:stat"), paper) is not None
    assert evaluate(parse_query("cat:cs.CV"), paper) is None


def test_hits_say_where_and_score_with_weights() -> None:
    paper = make_paper("LLM serving", "We serve an LLM with a KV cache.", authors=["Ada Lovelace"])
    hits = evaluate(parse_query('LLM^2 "kv cache" au:lovelace cat:cs.AI'), paper)
    assert hits is not None
    assert [(h.keyword, h.in_title, h.in_abstract, h.in_authors, h.weight) for h in hits] == [
        ("LLM", True, True, False, 2.0),
        ("kv cache", False, True, False, 1.0),
        ("au:lovelace", False, False, True, 1.0),
        ("cat:cs.AI", False, False, False, 1.0),
    ]
    assert score_hits(hits) == 2.0 * 1.5 + 1.0 + 1.0 + 0.0


def test_precedence_and_parentheses() -> None:
    node = parse_query("a OR b AND c")
    assert node == Op("OR", Word("all", "a", 1.0, 1), Op("AND", Word("all", "b", 1.0, 6), Word("all", "c", 1.0, 12)))
    node = parse_query("(a OR b) ANDNOT ti:c")
    assert isinstance(node, Op)
    assert node.op == "ANDNOT"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("ti:", r"ends too early"),
        ("(llm", r"'\(' at position 1 is never closed"),
        ("llm)", r"unexpected '\)' at position 4"),
        ("llm AND", r"ends too early"),
        ("OR llm", r"unexpected 'OR' at position 1"),
        ('"kv cache', r"unbalanced quote at position 1"),
        ("xx:llm", r"unknown field 'xx:' at position 1"),
        ('""', r"empty phrase at position 2"),
        ("(" * 30 + "a" + ")" * 30, r"nested too deeply"),
        ("a " * 600, r"characters long"),
        (" OR ".join(["a"] * 60), r"has 60 terms"),
        ("LLM^" + "9" * 400, r"weight \^9{20} at position 1 is over 100"),
        ("cat:cs.LG^1000", r"is over 100"),
        ("cat:bogus", r"cat:bogus at position 5 is not an arXiv category or archive"),
        ("llm AND cat:cs.XX", r"cat:cs.XX at position 13 .*\(did you mean cat:cs.SY\?\)"),
    ],
)
def test_parse_errors_say_where(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message) as error:
        parse_query(query)
    assert str(error.value).startswith("query: parameter 'q': ")


words = st.sampled_from(
    ["llm", "kv cache", "transformer", "RL", "quantum", "graph", "ti:model", "au:smith", "cat:cs.LG"]
)
queries = st.recursive(
    words.map(lambda w: f'"{w}"' if " " in w else w),
    lambda inner: st.tuples(inner, st.sampled_from([" AND ", " OR ", " ANDNOT ", " "]), inner).map(
        lambda t: f"({t[0]}{t[1]}{t[2]})"
    ),
    max_leaves=8,
)
SAMPLE: list[Paper] = PAPERS[::15]


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(queries, queries)
def test_and_keeps_a_subset(a: str, b: str) -> None:
    only_a = {p.id for p in SAMPLE if evaluate(parse_query(a), p) is not None}
    both = {p.id for p in SAMPLE if evaluate(parse_query(f"({a}) AND ({b})"), p) is not None}
    either = {p.id for p in SAMPLE if evaluate(parse_query(f"({a}) OR ({b})"), p) is not None}
    assert both <= only_a <= either


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_crashes(text: str) -> None:
    try:
        node = parse_query(text)
    except QueryError:
        return
    for paper in SAMPLE[:5]:
        hits = evaluate(node, paper)
        assert hits is None or math.isfinite(score_hits(hits))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=50))
def test_scores_are_finite_for_every_allowed_weight(weights: list[float]) -> None:
    query = " OR ".join(f"cat:cs^{w:.6f}" for w in weights)
    hits = evaluate(parse_query(query), SAMPLE[0])
    assert hits is not None
    assert math.isfinite(score_hits(hits))

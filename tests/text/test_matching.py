"""core.text.matching: whole words, phrases, plurals, folded accents and LaTeX, one engine for
keywords, exclusions, topics and queries."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.arxiv.rss import parse_feed
from core.text.matching import Matcher, Term, TextIndex, Word, evaluate, fold, match_papers
from tests.arxiv_fake import COMBINED, read
from tests.papers import make_paper

WORDS = st.sampled_from(["kv", "cache", "LLM", "rl", "Agent", "graph-based", "ſ", "K", "ı", "İ", "ß", "x_y"])
TEXT = st.lists(st.one_of(WORDS, st.sampled_from([" ", "-", "s", "es", ".", "\n", "é"]), st.text(max_size=3)))


@given(words=st.lists(WORDS, min_size=1, max_size=3).map(" ".join), text=TEXT.map("".join))
def test_found_in_agrees_with_the_pattern(words: str, text: str) -> None:
    """The needle test is sound on folded text, ASCII or not (ſ, K, ı, İ fold to ASCII)."""
    term, folded = Term.compile(words), fold(text)
    assert term.found_in(folded) == (term.pattern.search(folded) is not None)


def test_the_needle_is_the_longest_ascii_word() -> None:
    assert Term.compile("KV cache").needle == "cache"
    assert Term.compile("graph-based RL").needle == "graph"
    assert Term.compile("größe").needle == ""  # not ASCII: the pattern alone decides
    assert Term.compile("KV-Cache").found_in("a kv cache") is True
    assert Term.compile("LLM").found_in(fold("two LLMs and an ſ")) is True
    assert Term.compile("kelvin").found_in(fold("\u212aelvin")) is True  # the Kelvin sign


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


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Michal Hajdušek", "Michal Hajdusek"),
        ("Schrödinger", "Schrodinger"),
        ("Łukasz Ørsted", "Lukasz Orsted"),
        ("José Fernando Núñez", "Jose Fernando Nunez"),
        ("Schro\u0308dinger", "Schrodinger"),  # decomposed: composed first
        ("𝒪(n) and ﬁne", "O(n) and ﬁne"),  # one character for one: the ligature stays
        ("plain ASCII", "plain ASCII"),
    ],
)
def test_fold_drops_accents_and_keeps_case(text: str, folded: str) -> None:
    assert fold(text) == folded


@given(st.text().map(lambda t: unicodedata.normalize("NFC", t)))
def test_fold_keeps_positions(text: str) -> None:
    """Highlights put the spans found in folded text on the text shown."""
    assert len(fold(text)) == len(text)


def test_keywords_and_queries_give_the_same_hits() -> None:
    from core.text.matching import Word, evaluate

    paper = make_paper("Schrödinger bridges for LLMs", "A KV-cache study.", authors=["Michal Hajdušek"])
    for keyword in ("schrodinger", "LLM", "kv cache", "Schrödinger bridge"):
        assert Matcher.build([keyword]).match(paper).hits == evaluate(Word("all", keyword), paper)
    assert evaluate(Word("au", "hajdusek"), paper) is not None
    assert Matcher.build(["hajdusek"]).match(paper).hits == []  # keywords read title and abstract


def test_an_index_finds_a_words_papers_once_and_remembers_a_bounded_number() -> None:
    """A filtered feed asked again (another format, limit, combination) runs no pattern: the
    version's index remembers each word's hits, up to a bound counted in papers."""
    papers = parse_feed(read(COMBINED)).papers
    model, graph = Word("all", "model"), Word("ti", "graph")
    index = TextIndex(papers, remember=1_050)
    hits = index.hits(model)
    assert hits == {p.id: found[0] for p in papers if (found := evaluate(model, p))}
    assert len(hits) == 749
    assert index.hits(Word("all", "model", position=7)) is hits  # where it was written does not matter
    titled = index.hits(graph)
    assert len(titled) == 36
    assert index.hits(model) is hits  # 785 remembered; "model" asked last
    index.hits(Word("all", "learning"))  # 272 more: past 1,050, the least recently asked goes
    assert index.hits(model) is hits
    assert index.hits(graph) is not titled

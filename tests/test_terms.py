"""core.terms: the quick needle test never changes what the pattern decides."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.terms import Term

WORDS = st.sampled_from(["kv", "cache", "LLM", "rl", "Agent", "graph-based", "ſ", "K", "ı", "İ", "ß", "x_y"])
TEXT = st.lists(st.one_of(WORDS, st.sampled_from([" ", "-", "s", "es", ".", "\n", "é"]), st.text(max_size=3)))


@given(words=st.lists(WORDS, min_size=1, max_size=3).map(" ".join), text=TEXT.map("".join))
def test_found_in_agrees_with_the_pattern(words: str, text: str) -> None:
    term = Term.compile(words)
    assert term.found_in(text) == (term.pattern.search(text) is not None)


def test_the_needle_is_the_longest_ascii_word() -> None:
    assert Term.compile("KV cache").needle == "cache"
    assert Term.compile("graph-based RL").needle == "graph"
    assert Term.compile("größe").needle == ""  # not ASCII: the pattern alone decides
    assert Term.compile("KV-Cache").found_in("a kv cache") is True
    assert Term.compile("LLM").found_in("two LLMs and an ſ") is True

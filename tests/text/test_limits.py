"""The caps on upstream text: cut at a word, with an ellipsis, and said."""

from __future__ import annotations

from core.text import limits
from core.text.limits import ELLIPSIS, Fitter, cut


def test_a_text_that_fits_is_left_as_it_is() -> None:
    assert cut("a short title", 20) == "a short title"
    assert Fitter().text("title", "a  short\x0ctitle ", 20) == "a short title"  # cleaned all the same


def test_a_long_text_is_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    text = "alpha beta gamma delta epsilon"
    assert cut(text, 18) == "alpha beta gamma" + ELLIPSIS
    assert cut(text, 17) == "alpha beta gamma" + ELLIPSIS  # the space itself falls at the cut
    assert cut(text, 16) == "alpha beta" + ELLIPSIS
    assert all(len(cut(text, n)) <= n for n in range(2, 40))


def test_one_huge_word_is_cut_mid_word_rather_than_emptied() -> None:
    assert cut("x" * 100, 10) == "x" * 9 + ELLIPSIS


def test_the_fitter_names_what_it_cut_and_cleans_only_a_slice_of_a_huge_text() -> None:
    fit = Fitter()
    huge = "word\x0c " * 3_000_000  # 18 MB, control characters and all
    text = fit.text("abstract", huge, limits.ABSTRACT)
    assert len(text) <= limits.ABSTRACT
    assert text.endswith("word" + ELLIPSIS)
    assert "\x0c" not in text
    assert fit.text("title", "fine", limits.TITLE) == "fine"
    assert (fit.changed, fit.note()) == (True, "abstract")


def test_a_text_of_white_space_past_the_slice_is_still_said_to_be_cut() -> None:
    fit = Fitter()
    assert fit.text("title", "short" + " " * 10_000 + "tail", 100) == "short" + ELLIPSIS
    assert fit.cut == ["title"]


def test_names_are_capped_each_in_count_and_in_all() -> None:
    fit = Fitter()
    assert fit.names("authors", ["A", "", "B", "C"], 10, 2, 100) == ["A", "B"]
    assert fit.note() == "authors"
    fit = Fitter()
    assert fit.names("authors", ["x" * 50] * 10, 10, 100, 30) == ["x" * 9 + ELLIPSIS] * 3
    assert fit.changed
    fit = Fitter()
    assert fit.names("authors", ["A", "B"], 10, 2, 100) == ["A", "B"]
    assert not fit.changed

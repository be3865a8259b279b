"""core.text.latex: XML-safe, tidy strings, and LaTeX turned into readable Unicode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.text.latex import clean_text, latex_to_unicode, strip_illegal


def test_clean_text_drops_xml_illegal_characters_and_folds_space() -> None:
    assert clean_text("  a\x0cb \n\t c\x00 ") == "a b c"
    assert clean_text("lone \ud800 surrogate") == "lone surrogate"


def test_strip_illegal_keeps_line_breaks() -> None:
    assert strip_illegal("line one\nline\x0b two\r\n") == "line one\nline two\r\n"


@pytest.mark.parametrize(
    ("latex", "shown"),
    [
        (r"$\mathcal{O}(n)$ time", "𝒪(n) time"),
        (r"Schr\"odinger", "Schrödinger"),
        (r"\emph{really} fast", "really fast"),
        ("5% faster, no LaTeX", "5% faster, no LaTeX"),  # returned as it is
        (r"5% faster with $\alpha$", "5% faster with α"),  # "%" is not a LaTeX comment here
        (r"up to 98\% fewer $x$, and the rest", "up to 98% fewer x, and the rest"),  # escaped by arXiv
        (r"98\% and 5% with \emph{both}", "98% and 5% with both"),
        (r"broken \frac{", r"broken \frac{"),  # malformed: the original is shown
    ],
)
def test_latex_becomes_unicode(latex: str, shown: str) -> None:
    assert latex_to_unicode(latex) == shown


def test_no_abstract_of_the_recorded_day_is_cut_short() -> None:
    """48 of the day's abstracts write "\\%"; escaped again it was a line break and a comment,
    and everything after it was lost from the feeds."""
    from core.arxiv.rss import parse_feed
    from tests.arxiv_fake import COMBINED, read

    papers = [p for p in parse_feed(read(COMBINED)).papers if "\\%" in p.abstract]
    assert len(papers) == 48
    for paper in papers:
        shown = latex_to_unicode(paper.abstract)
        assert len(shown) > 0.8 * len(paper.abstract), paper.id
        assert "%" in shown


def _whole(text: str) -> str:
    """pylatexenc's own conversion of the whole text, as it comes (its default macro table)."""
    from pylatexenc.latex2text import LatexNodes2Text

    return str(LatexNodes2Text(math_mode="text").latex_to_text(text))


@pytest.mark.slow
def test_converting_by_parts_equals_converting_whole_on_the_recorded_day() -> None:
    """Every title, abstract and author name of the day with LaTeX: by parts, the same text as
    pylatexenc over the whole (or None, and then the whole is converted)."""
    from core.arxiv.rss import parse_feed
    from core.text.latex import _BARE_PERCENT, by_parts
    from tests.arxiv_fake import COMBINED, read

    texts = [t for p in parse_feed(read(COMBINED)).papers for t in (p.title, p.abstract, *p.authors)]
    with_latex = [_BARE_PERCENT.sub(r"\\%", t) for t in texts if "\\" in t or "$" in t]
    checked = 0
    for text in with_latex:
        try:
            whole = _whole(text)
        except Exception:
            continue
        parts = by_parts(text)
        if parts is not None:
            assert parts == whole, text[:200]
            checked += 1
    assert checked > 0.9 * len(with_latex)


PIECES = st.sampled_from(
    [
        "word",
        " ",
        "  ",
        "-",
        "--",
        "---",
        "``",
        "''",
        "'",
        "~",
        "&",
        "{",
        "}",
        "!`",
        "?`",
        ".",
        ",",
        r"\'e",
        r"\"o",
        r"\v{s}",
        r"\emph{x}",
        r"\textbf{bold}",
        r"$x$",
        r"$\alpha$",
        r"$\mathcal{O}(n)$",
        r"$a_{i}^{2}$",
        r"\%",
        r"\\",
        r"\ldots",
        r"\&",
        "$",
        r"\(",
        r"\[",
        r"{\it it}",
        "\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=12).map("".join))
def test_converting_by_parts_equals_converting_whole(text: str) -> None:
    from core.text.latex import by_parts

    try:
        whole = _whole(text)
    except Exception:
        return
    try:
        parts = by_parts(text)
    except Exception:
        return
    assert parts is None or parts == whole

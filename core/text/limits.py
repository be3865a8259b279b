"""How long a text from upstream may be: the caps on every field a paper carries, in one place.

arXiv keeps an abstract to 1,920 characters (the longest recorded one is exactly that long;
arXiv's help pages do not state the figure), yet nothing stops a faulty or hostile upstream (a
mirror, a test server, a BibTeX export) from sending a 15 MB one, and a paper that size
would sink a save (Upstash refuses a request over 10 MB) and the refresh's memory. So every
parser cleans each text field once (``clean_text``) and cuts it to a cap here, at a word
boundary with an ellipsis. The caps are about ten times the largest value measured in the
recorded arXiv answers (tests/data, ../shared/data/arxiv), so no real paper is ever cut.

``Fitter`` does the cleaning and cutting for one record and notes which fields it cut, so the
refresh can say so in its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.text.latex import clean_text

# Largest measured (December 2026, 27 recorded answers) -> cap.
TITLE = 2_000  # 218
ABSTRACT = 20_000  # 1,920
AUTHOR = 300  # one name: 37
# A few collaborations sign with thousands of names (ATLAS and CMS: over 5,000), so the count is
# capped well above them rather than at ten times the 207 measured; the names together are
# capped too, so a paper's authors stay under a few hundred KB whatever the count.
AUTHORS = 10_000
AUTHORS_CHARS = 250_000  # all names with their separators: 2,515
COMMENT = 4_000  # 345
JOURNAL_REF = 2_000  # 182
VENUE = 300  # found in a comment; real venues are a few words
TOKEN = 100  # a category, an announce type, a primary category: 41
CATEGORIES = 100  # 6
URL = 1_000  # a DOI, the rights URL, a code link: 51
CODE_LINKS = 50  # 1
KEY = 200  # a BibTeX key, a feed's error reason
ELLIPSIS = "\u2026"


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters: as it is when it fits, else cut at the last
    word boundary that fits (mid-word only when one word fills the half of it) and ended with
    an ellipsis."""
    if len(text) <= limit:
        return text
    return _shorten(text, limit)


def _shorten(text: str, limit: int) -> str:
    head = text[: limit - len(ELLIPSIS) + 1]  # one over: a space there means the cut falls between words
    space = head.rfind(" ")
    head = head[:space] if space >= limit // 2 else head[: limit - len(ELLIPSIS)]
    return head.rstrip() + ELLIPSIS


@dataclass
class Fitter:
    """Cleans and caps the text fields of one record, and names the fields it cut."""

    cut: list[str] = field(default_factory=list)

    def text(self, name: str, value: str | None, limit: int) -> str:
        """``value`` cleaned (``clean_text``) and cut to ``limit``. Only a slice of a huge value
        is cleaned: folding white space can shrink a text, so twice the cap, and more, is read."""
        if not value:
            return ""
        head = value[: 2 * limit + 64]
        text = clean_text(head)
        if len(head) == len(value) and len(text) <= limit:
            return text
        self.cut.append(name)
        return _shorten(text, limit) if len(text) > limit else text + ELLIPSIS

    def names(self, name: str, values: list[str], limit: int, count: int, total: int) -> list[str]:
        """Each of ``values`` cleaned and cut to ``limit``; empty ones dropped; at most ``count``
        of them, and no more than fit in ``total`` characters (with a separator each)."""
        kept: list[str] = []
        used = 0
        for value in values:
            if len(kept) == count or used >= total:
                self.cut.append(name)
                break
            text = self.text(name, value, limit)
            if text:
                kept.append(text)
                used += len(text) + 2
        return kept

    @property
    def changed(self) -> bool:
        return bool(self.cut)

    def note(self) -> str:
        """The fields cut, each once, in order: "abstract, authors"."""
        return ", ".join(dict.fromkeys(self.cut))

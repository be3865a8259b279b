"""Similarity: papers like the ones a researcher loves, by a lexical model small enough for a
serverless function (no model download, no heavy dependency).

TF-IDF over title and abstract, read as matching reads them (LaTeX converted, accents folded,
case ignored), common English and paper-boilerplate words left out. Term frequency is
sublinear (1 + log tf), idf is log((1 + N) / (1 + df)) + 1 over the collection (the stored
papers and the liked ones), vectors are L2-normalised, and the title counts twice. A paper's
similarity to a liked set is its highest cosine with one liked paper, and that paper is named
in the explanation. Below ``FLOOR`` a paper is not like the liked ones at all (None): the
for-you feed and ``?like=`` list only papers that are really alike, and may list none.
Pure: papers in, scores out.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.models import Paper, SimilarTo
from core.text.matching import fold

# Points a similarity of 1.0 is worth, next to keyword points (a keyword found: 1, in the title:
# 1.5): a paper with cosine 0.42 to a liked paper scores 4.2 in a for-you feed.
LIKE_POINTS = 10.0
# The lowest cosine worth showing, calibrated on the recorded 1,504-paper day
# (bench/similarity.py, figures in bench/README.md): from 0.10 up, most papers (63% and more)
# share an arXiv category with the liked paper they are most like; below it they mostly do not
# (0.06-0.08: 40-48%; "Detecting Dark Patterns in Mobile Apps" was 0.06 like a dark-matter paper).
FLOOR = 0.10
_WORD = re.compile(r"[a-z][a-z0-9]+(?:-[a-z0-9]+)*")
STOP_WORDS = frozenset(
    " ".join(
        [
            "a about above after again against all also am an and any are as at be because been before being",
            "below between both but by can could did do does doing down during each few for from further had has",
            "have having he her here hers herself him himself his how i if in into is it its itself just me more",
            "most my myself no nor not now of off on once only or other our ours ourselves out over own same she",
            "should so some such than that the their theirs them themselves then there these they this those",
            "through to too under until up very was we were what when where which while who whom why will with",
            "would you your yours yourself yourselves via using use used uses based new show shows shown propose",
            "proposed proposes present presents paper work approach approaches method methods result results",
            "however thus well first two one three many may might within without across various different several",
            "existing recent recently moreover furthermore including provide provides given make makes achieve",
            "achieves demonstrate demonstrates study studies further",
        ]
    ).split()
)

Vector = dict[str, float]


def terms(paper: Paper) -> Counter[str]:
    """The words of a paper's title (counted twice) and abstract, folded, without stop words."""
    title = _words(paper.display_title)
    counted = Counter(title + title)
    counted.update(_words(paper.display_abstract))
    return counted


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(fold(text).lower()) if w not in STOP_WORDS]


@dataclass(frozen=True)
class Model:
    """Inverse document frequencies of a collection, and vectors by them."""

    idf: dict[str, float]
    default_idf: float  # of a word the collection never saw

    @classmethod
    def fit(cls, documents: Iterable[Counter[str]]) -> Model:
        df: Counter[str] = Counter()
        n = 0
        for document in documents:
            df.update(document.keys())
            n += 1
        idf = {word: math.log((1 + n) / (1 + count)) + 1 for word, count in df.items()}
        return cls(idf, math.log(1 + n) + 1)

    def vector(self, counted: Counter[str]) -> Vector:
        weights = {w: (1 + math.log(n)) * self.idf.get(w, self.default_idf) for w, n in counted.items()}
        norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
        return {w: v / norm for w, v in weights.items()}


@dataclass(frozen=True)
class Liked:
    """The liked set as an inverted index: word -> [(liked paper's index, weight)]."""

    papers: list[Paper]
    postings: dict[str, list[tuple[int, float]]]

    @classmethod
    def build(cls, papers: Sequence[Paper], vectors: Sequence[Vector]) -> Liked:
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for index, vector in enumerate(vectors):
            for word, weight in vector.items():
                postings[word].append((index, weight))
        return cls(list(papers), dict(postings))

    def best(self, vector: Vector) -> tuple[Paper, float] | None:
        """The liked paper most like ``vector``, and the cosine; None when nothing is shared."""
        dots: dict[int, float] = defaultdict(float)
        for word, weight in vector.items():
            for index, liked_weight in self.postings.get(word, ()):
                dots[index] += weight * liked_weight
        if not dots:
            return None
        index = max(dots, key=lambda i: (dots[i], -i))
        return self.papers[index], min(dots[index], 1.0)


@dataclass(frozen=True)
class Index:
    """Every stored and liked paper's vector under one model fitted to them all: made once per
    store version, so a for-you or ``?like=`` feed costs only the scoring."""

    model: Model
    vectors: dict[str, Vector]

    @classmethod
    def build(cls, papers: Iterable[Paper]) -> Index:
        counted = {p.id: terms(p) for p in papers}
        model = Model.fit(counted.values())
        return cls(model, {i: model.vector(c) for i, c in counted.items()})

    def liked(self, papers: Sequence[Paper]) -> Liked:
        return Liked.build(papers, [self.vectors.get(p.id) or self.model.vector(terms(p)) for p in papers])

    def similar(self, paper: Paper, liked: Liked) -> SimilarTo | None:
        """The liked paper ``paper`` is most like, with the points it adds; None when it is not
        really like any (under ``FLOOR``)."""
        vector = self.vectors.get(paper.id) or self.model.vector(terms(paper))
        best = liked.best(vector)
        if best is None or best[1] < FLOOR:
            return None
        other, cosine = best
        return SimilarTo(
            id=other.id, title=other.display_title, similarity=round(cosine, 4), points=round(LIKE_POINTS * cosine, 2)
        )

"""Not for me counts against: a paper's likeness to the liked papers, less a share of its
likeness to the papers a reader marked "Not for me" (Rocchio's relevance feedback, with the
highest cosine to one paper on each side, as core.text.similarity scores the liked side).

    net = cosine(best liked) - DISLIKE_SHARE x max(0, cosine(best disliked) - FLOOR)

Only likeness above the similarity floor (``FLOOR``, under which papers are not alike)
counts against: below it, two papers share a few common words and nothing more, and taking
that off pulled down the liked field's own papers as much as the disliked one's. The floor
decides which papers are alike (core.text.similarity); the dislikes then rank them, and drop
one only when nothing is left (a net of zero or less: dropping every paper the pull takes
under the floor cost the liked field 0.01 of precision at 10 for nothing). The disliked
paper that pulled a score down is named in its explanation. The share is calibrated on the
recorded day in bench/similarity.py (figures in bench/README.md). Pure.
"""

from __future__ import annotations

from core.models import Paper, PulledDown, SimilarTo
from core.text.similarity import FLOOR, LIKE_POINTS, Index, Liked, terms

DISLIKE_SHARE = 0.5


def similar_despite(index: Index, paper: Paper, liked: Liked, disliked: Liked) -> SimilarTo | None:
    """``index.similar(paper, liked)`` with the points of its likeness to ``disliked`` taken off."""
    like = index.similar(paper, liked)
    if like is None:
        return None
    worst = disliked.best(index.vectors.get(paper.id) or index.model.vector(terms(paper)))
    if worst is None or worst[1] <= FLOOR:
        return like
    other, cosine = worst
    pull = DISLIKE_SHARE * (cosine - FLOOR)
    net = like.similarity - pull
    if net <= 0:
        return None
    taken = round(LIKE_POINTS * pull, 2)
    pulled = PulledDown(id=other.id, title=other.display_title, similarity=round(cosine, 4), points=taken)
    return like.model_copy(update={"points": round(LIKE_POINTS * net, 2), "pulled_down": pulled})

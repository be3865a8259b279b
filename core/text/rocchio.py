"""Not for me counts against: a paper's likeness to the liked papers, less a share of its
likeness to the papers a reader marked "Not for me" (Rocchio's relevance feedback, with the
highest cosine to one paper on each side, as core.text.similarity scores the liked side).

    net = cosine(best liked) - DISLIKE_SHARE x cosine(best disliked)

A paper whose net is not above zero is not like the liked ones at all (None), and the
disliked paper that pulled a score down is named in its explanation. ``DISLIKE_SHARE`` is
calibrated on the recorded day in bench/similarity.py (figures in bench/README.md). Pure.
"""

from __future__ import annotations

from core.models import Paper, PulledDown, SimilarTo
from core.text.similarity import LIKE_POINTS, Index, Liked, terms

DISLIKE_SHARE = 0.75


def similar_despite(index: Index, paper: Paper, liked: Liked, disliked: Liked) -> SimilarTo | None:
    """``index.similar(paper, liked)`` with the points of its likeness to ``disliked`` taken off."""
    like = index.similar(paper, liked)
    if like is None:
        return None
    worst = disliked.best(index.vectors.get(paper.id) or index.model.vector(terms(paper)))
    if worst is None:
        return like
    other, cosine = worst
    net = like.similarity - DISLIKE_SHARE * cosine
    if net <= 0:
        return None
    taken = round(LIKE_POINTS * DISLIKE_SHARE * cosine, 2)
    pulled = PulledDown(id=other.id, title=other.display_title, similarity=round(cosine, 4), points=taken)
    return like.model_copy(update={"points": round(LIKE_POINTS * net, 2), "pulled_down": pulled})

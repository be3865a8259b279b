"""What a reader tells the feeds: "Like" and "Not for me" given from an item (core.web.routes.feedback),
kept as one bounded ``Feedback`` record, and what the for-you feed makes of it.

One opinion per paper: liking a paper marked "Not for me" turns it round, and undoing forgets
it. Each opinion keeps the paper's title and abstract (cut to ``MAX_ABSTRACT``), so a paper
liked a month ago still counts after it has left the stored feeds. At most ``MAX_OPINIONS``
are kept, the newest: about 1.5 MB at most, one record on Upstash (10 MB a request). Pure.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from core.models import Action, Feedback, Opinion, Paper

MAX_OPINIONS = 500
# arXiv's abstracts stop at 1,920 characters; a little more leaves room for converted LaTeX.
MAX_ABSTRACT = 2_400
MAX_TITLE = 400
ACTIONS: tuple[Action, ...] = ("like", "dislike")


def record_opinion(feedback: Feedback, paper: Paper, action: Action, now: datetime) -> Feedback:
    """``feedback`` with ``paper`` liked (or not for me) now, as its newest opinion."""
    opinion = Opinion(
        id=paper.id,
        action=action,
        at=now,
        title=paper.display_title[:MAX_TITLE],
        abstract=paper.display_abstract[:MAX_ABSTRACT],
    )
    rest = [o for o in feedback.opinions if o.id != paper.id]
    return _saved([opinion, *rest][:MAX_OPINIONS])


def forget_opinion(feedback: Feedback, paper_id: str) -> Feedback:
    """``feedback`` without any opinion on ``paper_id`` (undo, or removed from the page)."""
    return _saved([o for o in feedback.opinions if o.id != paper_id])


def _saved(opinions: list[Opinion]) -> Feedback:
    """A record to save: a new version token, which changes the store's version."""
    return Feedback(opinions=opinions, version=secrets.token_hex(8))


def liked_papers(configured: Sequence[Paper], feedback: Feedback) -> list[Paper]:
    """The for-you feed's liked papers: config.json's (and its BibTeX file's and Zotero's), then
    those liked from the feeds; a paper marked "Not for me" since is not among them."""
    disliked = {o.id for o in feedback.of("dislike")}
    kept = [p for p in configured if p.id not in disliked]
    known = {p.id for p in kept}
    return kept + [o.as_paper() for o in feedback.of("like") if o.id not in known]


def disliked_papers(feedback: Feedback) -> list[Paper]:
    """The papers marked "Not for me", as the similarity model reads them."""
    return [o.as_paper() for o in feedback.of("dislike")]

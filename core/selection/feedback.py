"""What a reader tells the feeds: "Like" and "Not for me" given from an item (core.web.routes.feedback),
kept as one bounded ``Feedback`` record, and what the for-you feed makes of it.

One opinion per paper: liking a paper marked "Not for me" turns it round, and undoing forgets
it. Each opinion keeps the paper's title and abstract (cut to ``MAX_ABSTRACT``), so a paper
liked a month ago still counts after it has left the stored feeds. At most ``MAX_OPINIONS``
are kept, the newest, and no more than ``MAX_BYTES`` of them: one record on Upstash, whose
requests may not pass 10 MB. Pure.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from core.models import Action, Feedback, Opinion, Paper

MAX_OPINIONS = 500
# And at most this many bytes of JSON, whatever the scripts of the texts: one request on
# Upstash may not pass 10 MB, and the record's quotes are escaped again inside the request.
MAX_BYTES = 3_000_000
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
    """A record to save, the oldest opinions dropped past ``MAX_BYTES``, with a new version
    token (which changes the store's version)."""
    feedback = Feedback(opinions=opinions, version=secrets.token_hex(8))
    size = len(feedback.model_dump_json().encode())
    while size > MAX_BYTES:
        dropped = feedback.opinions[-1]
        size -= len(dropped.model_dump_json().encode()) + 1
        feedback = feedback.but(opinions=feedback.opinions[:-1])
    return feedback


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

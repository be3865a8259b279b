"""The feedback pages: "Add ‘Title’ to what you like?" with its form, what was recorded with
its undo, and the refusals (a forged link, a paper no longer known); and the "Like" / "Not
for me" links each feed item carries. Pure: what to say in, HTML out (autoescaped)."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from core.models import Action, Feedback, Opinion, Paper

LABELS: dict[Action, str] = {"like": "Like", "dislike": "Not for me"}


@dataclass(frozen=True)
class Form:
    action: str  # the URL it POSTs to (the signed link itself)
    button: str
    undo: bool = False


@dataclass(frozen=True)
class FeedbackPage:
    status: int
    heading: str
    paper_id: str = ""
    paper_title: str = ""
    message: str = ""
    form: Form | None = None
    for_you_url: str = ""


@dataclass(frozen=True)
class ItemLinks:
    """A feed item's signed feedback URLs."""

    like: str
    dislike: str

    def extra(self) -> dict[str, str]:
        """As JSON Feed's ``_arxiv.feedback``."""
        return {"like": self.like, "dislike": self.dislike}

    def html(self) -> str:
        esc = html.escape
        return (
            f'<p><b>Teach the for-you feed:</b> <a href="{esc(self.like)}">{LABELS["like"]}</a>'
            f' &middot; <a href="{esc(self.dislike)}">{LABELS["dislike"]}</a></p>'
        )


@dataclass(frozen=True)
class LearnedPaper:
    id: str
    title: str
    source: str  # config.json, BibTeX, Zotero or "a feed"
    remove_url: str = ""  # a signed undo (given from a feed only): the page's form POSTs there


@dataclass(frozen=True)
class Learned:
    """What the for-you feed learned from: the page's "What it learned" section."""

    liked: list[LearnedPaper]
    disliked: list[LearnedPaper]


def build_learned(
    configured: list[Paper],
    config_ids: set[str],
    zotero_ids: set[str],
    feedback: Feedback,
    undo: Callable[[Opinion], str],
) -> Learned:
    """The liked papers by source, then those given from the feeds with their undo URLs
    (``undo``); a configured paper marked "Not for me" since shows only there."""
    disliked = {o.id for o in feedback.of("dislike")}

    def source(paper: Paper) -> str:
        if paper.id in config_ids:
            return "config.json"
        return "Zotero" if paper.id in zotero_ids or paper.id.startswith("zotero:") else "BibTeX"

    liked = [LearnedPaper(p.id, p.display_title, source(p)) for p in configured if p.id not in disliked]
    known = {p.id for p in liked}
    liked += [LearnedPaper(o.id, o.title, "a feed", undo(o)) for o in feedback.of("like") if o.id not in known]
    return Learned(liked, [LearnedPaper(o.id, o.title, "a feed", undo(o)) for o in feedback.of("dislike")])


def ask_page(paper_id: str, title: str, action: Action, url: str, before: Action | None) -> FeedbackPage:
    """The confirmation a GET answers: nothing is changed until its form is sent."""
    if action == "like":
        heading, button = f"Add ‘{title}’ to what you like?", "Yes, I like it"
    else:
        heading, button = f"Mark ‘{title}’ as not for you?", "Yes, not for me"
    message = ""
    if before is not None:
        message = f"You had marked it {'liked' if before == 'like' else 'not for you'}; this turns that round."
    return FeedbackPage(200, heading, paper_id, title, message, Form(url, button))


def done_page(paper_id: str, title: str, action: Action, url: str, for_you_url: str) -> FeedbackPage:
    """What the POST recorded (the 303 leads here), with a signed undo."""
    if action == "like":
        heading, message = f"You like ‘{title}’", "The for-you feed ranks papers like it higher from now on."
    else:
        heading, message = f"‘{title}’ is not for you", "It leaves the for-you feed, and papers like it rank lower."
    return FeedbackPage(200, heading, paper_id, title, message, Form(url, "Undo", undo=True), for_you_url)


def refused_page(status: int, heading: str, message: str) -> FeedbackPage:
    return FeedbackPage(status, heading, message=message)


Links = Callable[[Paper], ItemLinks]

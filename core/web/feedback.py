"""What a feedback link answers (its routes: core.web.routes.feedback), and the signed links
each feed item carries.

Readers and link scanners open links before anyone clicks them, so a GET never changes
anything: it answers a small page whose form POSTs to the same signed URL. The POST records
the opinion in the store (compare-and-set: two clicks on two instances never lose one) and
answers 303 to that page, which now shows it with an undo (the same signed POST, with
``undo=1``). A missing or forged signature is a 403 page and changes nothing. The store's
version changes with each save, so the for-you feed and the page change at the next request.

Loaded by the first feedback link opened or the first feed with links, not by a cold start
(bench/coldstart.py): a feed without links needs none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from core.arxiv.ids import parse_id
from core.models import Action, Feedback, Paper
from core.render.feedback import FeedbackPage, ItemLinks, ask_page, done_page, refused_page
from core.render.pages import render_feedback_page
from core.selection.feedback import forget_opinion, record_opinion
from core.web.context import Context
from core.web.http_cache import NO_STORE
from core.web.signing import feedback_key, sign, verify

MAX_FORM_BYTES = 1024  # the form sends "undo=1" at most
SAVE_TRIES = 5  # compare-and-set attempts before giving up (each another reader's save between)


def ask(request: Request, ctx: Context, paper_id: str, action: str, sig: str | None) -> Response:
    """The page of one feedback link: a form to confirm, or what was recorded and its undo."""
    refused = _refusal(ctx, paper_id, action, sig)
    if refused is not None:
        return _page(request, refused)
    feedback = ctx.store.load_feedback()
    found = _paper(ctx, paper_id, feedback)
    if found is None:
        return _page(request, _unknown(paper_id))
    url = str(request.url)
    given = feedback.opinion(paper_id)
    if given is not None and given.action == action:
        return _page(request, done_page(paper_id, found.display_title, given.action, url, _learned(request, feedback)))
    before = given.action if given is not None else None
    return _page(request, ask_page(paper_id, found.display_title, _action(action), url, before))


async def save(request: Request, ctx: Context, paper_id: str, action: str, sig: str | None) -> Response:
    """Record the opinion of one feedback link (or undo it with ``undo=1``), then 303 to its page."""
    refused = _refusal(ctx, paper_id, action, sig)
    if refused is not None:
        return _page(request, refused)
    body = b""
    async for chunk in request.stream():  # read no more than a form can hold
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return _page(request, refused_page(413, "Too much sent", "the form sends one field at most"))
    undo = parse_qs(body.decode("latin-1")).get("undo") == ["1"]
    page = await run_in_threadpool(_save, ctx, paper_id, _action(action), undo)
    if page is not None:
        return _page(request, page)
    return RedirectResponse(str(request.url), status_code=303, headers={"Cache-Control": NO_STORE})


def item_links(request: Request, key: bytes) -> Callable[[Paper], ItemLinks]:
    """The signed links of each feed item, signed with ``key`` (core.web.signing)."""

    def links(paper: Paper) -> ItemLinks:
        like, dislike = (
            f"{request.url_for('feedback', paper_id=paper.id, action=a)}?sig={sign(key, paper.id, a)}"
            for a in ("like", "dislike")
        )
        return ItemLinks(like, dislike)

    return links


def _save(ctx: Context, paper_id: str, action: Action, undo: bool) -> FeedbackPage | None:
    """Apply the opinion to the stored record, again if another save came between; None when
    saved, else the page that says why not."""
    for _ in range(SAVE_TRIES):
        feedback = ctx.store.load_feedback()
        found = _paper(ctx, paper_id, feedback)
        if found is None:
            return _unknown(paper_id)
        given = feedback.opinion(paper_id)
        if undo:
            if given is None or given.action != action:
                return None  # nothing of this link's to undo
            changed = forget_opinion(feedback, paper_id)
        else:
            changed = record_opinion(feedback, found, action, datetime.now(UTC))
        if ctx.store.save_feedback(changed, feedback.version):
            ctx.versions.forget()  # this instance's next request sees the change
            return None
    return refused_page(409, "Not saved", "other clicks were being saved at the same time: send the form again")


def _refusal(ctx: Context, paper_id: str, action: str, sig: str | None) -> FeedbackPage | None:
    if action not in ("like", "dislike") or parse_id(paper_id) != paper_id:
        return refused_page(404, "No such link", "feedback links are /feedback/<arXiv id>/like or /dislike")
    key = feedback_key(ctx.settings)
    if key is None:
        return refused_page(404, "Feedback is off", "set FEEDBACK_SECRET (or CRON_SECRET) to turn it on")
    if not verify(key, paper_id, action, sig):
        return refused_page(
            403, "This link is not signed by this site", "use the Like / Not for me links of a feed item"
        )
    return None


def _paper(ctx: Context, paper_id: str, feedback: Feedback) -> Paper | None:
    """The paper a link names: stored, or kept with an opinion given earlier."""
    version = ctx.versions.current(ctx.store.load_version)
    stored = next((p for p in ctx.papers.load(ctx.store, version).papers if p.id == paper_id), None)
    if stored is not None:
        return stored
    given = feedback.opinion(paper_id)
    return given.as_paper() if given is not None else None


def _unknown(paper_id: str) -> FeedbackPage:
    return refused_page(404, "Paper not found", f"{paper_id} is no longer stored here, so it cannot be added")


def _action(action: str) -> Action:
    return "like" if action == "like" else "dislike"


def _learned(request: Request, feedback: Feedback) -> str:
    """The page's "What it learned", at a URL of this feedback's own: no cache (a CDN's, the
    browser's) holds an answer for it from before the change."""
    return f"{request.url_for('index')}?learned={feedback.version}#learned"


def _page(request: Request, page: FeedbackPage) -> Response:
    body = render_feedback_page(
        page,
        home_url=str(request.url_for("index")),
        icon_url=str(request.url_for("static", path="icon.png")),
        style_url=str(request.url_for("static", path="app.css")),
    )
    headers = {"Cache-Control": NO_STORE, "X-Robots-Tag": "noindex"}
    return HTMLResponse(body, status_code=page.status, headers=headers)

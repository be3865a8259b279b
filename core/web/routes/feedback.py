"""The feedback links of every feed item: ``/feedback/<arXiv id>/like`` and ``/dislike``, signed
(core.web.signing). What they answer is core.web.feedback, loaded by the first link opened
or the first feed that carries links: a cold start declares the routes and loads none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from core.models import Paper
from core.web.context import Context, ContextDep
from core.web.signing import feedback_key

if TYPE_CHECKING:
    from core.render.feedback import ItemLinks

router = APIRouter()
PATH = "/feedback/{paper_id:path}/{action}"
# Left out of the OpenAPI schema: a page with a form for people, whose signatures no schema
# can state (a fuzzer's every "valid" request would be a forged link, rightly refused).


@router.get(PATH, name="feedback", response_class=HTMLResponse, include_in_schema=False)
def ask(request: Request, ctx: ContextDep, paper_id: str, action: str, sig: str | None = None) -> Response:
    """The page of one feedback link: a form to confirm, or what was recorded and its undo."""
    from core.web import feedback

    return feedback.ask(request, ctx, paper_id, action, sig)


@router.post(PATH, name="feedback_save", response_class=HTMLResponse, include_in_schema=False)
async def save(request: Request, ctx: ContextDep, paper_id: str, action: str, sig: str | None = None) -> Response:
    """Record the opinion of one feedback link (or undo it with ``undo=1``), then 303 to its page."""
    from core.web import feedback

    return await feedback.save(request, ctx, paper_id, action, sig)


def item_links(request: Request, ctx: Context) -> Callable[[Paper], ItemLinks] | None:
    """The signed links of each feed item, or None when the deployment has no key to sign with."""
    key = feedback_key(ctx.settings)
    if key is None:
        return None
    from core.web import feedback

    return feedback.item_links(request, key)

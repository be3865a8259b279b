"""The two cron jobs (core.web.cron), behind the bearer secret. Never cached; HEAD does not
run them (core.web.head)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from core.config import Config
from core.settings import Settings
from core.store import Store
from core.web import cron
from core.web.context import Context, ContextDep
from core.web.http_cache import NO_STORE
from core.web.openapi import CronReport, answer, ref, responses

router = APIRouter()
DOCUMENTED = {200: answer(ref(CronReport)), **responses(None, 401, 409, 422, 503)}


@router.get("/api/cron/refresh", responses=DOCUMENTED)
def cron_refresh(ctx: ContextDep, authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
    """Run the daily refresh: Vercel Cron, or the owner, with Authorization: Bearer $CRON_SECRET."""
    return _run(ctx, authorization, cron.refresh_job)


@router.get("/api/cron/summarize", responses=DOCUMENTED)
def cron_summarize(ctx: ContextDep, authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
    """Continue the AI summaries a refresh left queued; the same bearer secret."""
    return _run(ctx, authorization, cron.summarize_job)


def _run(
    ctx: Context, authorization: str | None, job: Callable[[Settings, Config, Store], dict[str, Any]]
) -> JSONResponse:
    cron.authorize(authorization, ctx.settings.cron_secret)
    try:
        body = job(ctx.settings, ctx.config, ctx.store)
    finally:
        ctx.versions.forget()  # this instance wrote: its next request reads the version anew
    return JSONResponse(body, headers={"Cache-Control": NO_STORE})

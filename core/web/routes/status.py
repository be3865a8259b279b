"""Status: /health (for uptime monitors: the store, the last refresh, the summaries) and
/config (the effective configuration). Never cached."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from core.errors import StoreError
from core.summarize import status as summary_status
from core.web.context import ContextDep
from core.web.http_cache import NO_STORE
from core.web.openapi import EffectiveConfig, Health, HealthDown, responses

router = APIRouter()


@router.get("/health", responses={200: {"model": Health}, 503: {"model": HealthDown}, **responses(None)})
def health(ctx: ContextDep) -> JSONResponse:
    """Store reachability, the last refresh and the paper count; 503 when the store is down."""
    try:
        state, count = ctx.store.load_status()
    except StoreError as exc:
        down = {"status": "unavailable", "store": {"backend": ctx.store.name, "ok": False, "error": exc.message}}
        return JSONResponse(down, status_code=503, headers={"Retry-After": "60", "Cache-Control": NO_STORE})
    refresh = state.model_dump(mode="json", exclude={"etag", "last_modified", "last_request_at"})
    store = {"backend": ctx.store.name, "ok": True}
    status = summary_status(ctx.config.summary, ctx.settings)
    summaries = {"enabled": status.enabled, "status": status.message, "last_run": state.summary_message}
    body: dict[str, Any] = {"status": "ok", "store": store, "papers": count, "refresh": refresh}
    body["summaries"] = summaries
    return JSONResponse(body, headers={"Cache-Control": NO_STORE})


@router.get("/config", responses={200: {"model": EffectiveConfig}, **responses(None)})
def show_config(ctx: ContextDep) -> JSONResponse:
    """The effective configuration; secrets only say whether they are set."""
    body = {"config": ctx.config.model_dump(mode="json"), "settings": ctx.settings.describe()}
    return JSONResponse(body, headers={"Cache-Control": NO_STORE})

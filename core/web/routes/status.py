"""Status: /health (for uptime monitors: the store, the last refresh, the summaries) and
/config (the effective configuration). Never cached.

/health's ``status`` follows the health-check response draft (draft-inadarei-api-health-check):
"ok" (pass) and "degraded" (warn: the last refresh failed, the papers of the last good one are
served) answer 200; "error" (fail: nothing to serve, and the last refresh failed or never ran)
and "unavailable" (the store is down) answer 503, so a monitor that only reads the status code
alerts when readers get nothing. ``problem`` says what is wrong, in words.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from core.errors import StoreError
from core.models import RefreshState
from core.web.context import ContextDep
from core.web.http_cache import NO_STORE
from core.web.openapi import EffectiveConfig, Health, HealthDown, answer, ref, responses

router = APIRouter()


HEALTH_DOWN = {"anyOf": [ref(Health), ref(HealthDown)]}


@router.get(
    "/health", responses={200: answer(ref(Health)), 503: answer(HEALTH_DOWN, "Service Unavailable"), **responses(None)}
)
def health(ctx: ContextDep) -> JSONResponse:
    """Store reachability, the last refresh and the paper count; 503 when nothing can be served."""
    try:
        state, count = ctx.store.load_status()
    except StoreError as exc:
        down = {"status": "unavailable", "store": {"backend": ctx.store.name, "ok": False, "error": exc.message}}
        return JSONResponse(down, status_code=503, headers={"Retry-After": "60", "Cache-Control": NO_STORE})
    from core.summarize import status as summary_status  # here: not on a feed's path (bench/coldstart.py)

    refresh = state.model_dump(mode="json", exclude={"etag", "last_modified", "last_request_at"})
    store = {"backend": ctx.store.name, "ok": True}
    status = summary_status(ctx.config.summary, ctx.settings)
    summaries = {"enabled": status.enabled, "status": status.message, "last_run": state.summary_message}
    verdict, problem = judge(state, count)
    body: dict[str, Any] = {"status": verdict, "problem": problem, "store": store, "papers": count, "refresh": refresh}
    body["summaries"] = summaries
    code = 503 if verdict == "error" else 200
    return JSONResponse(body, status_code=code, headers={"Cache-Control": NO_STORE})


def judge(state: RefreshState, papers: int) -> tuple[str, str]:
    """The service's health from its last refresh and what it has to serve: a status, and the
    problem in words ("" when there is none)."""
    if state.outcome == "never":
        if papers:
            return "ok", ""
        return "error", "no refresh has run yet, so the feeds are empty: run python -m core refresh"
    if state.outcome != "error":
        return "ok", ""
    if papers:
        return "degraded", f"the last refresh failed, the papers of the last good one are served: {state.message}"
    return "error", f"the last refresh failed and there are no papers to serve: {state.message}"


@router.get("/config", responses={200: answer(ref(EffectiveConfig)), **responses(None)})
def show_config(ctx: ContextDep) -> JSONResponse:
    """The effective configuration; secrets only say whether they are set."""
    body = {"config": ctx.config.model_dump(mode="json"), "settings": ctx.settings.describe()}
    return JSONResponse(body, headers={"Cache-Control": NO_STORE})

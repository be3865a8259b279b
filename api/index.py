"""Vercel entry point: the ASGI app. Settings or a config.json that do not load give an app
answering 503 with the fix (core.web.app), never an import that fails.

Two lines before it, for the cold start (bench/coldstart.py), each marking a module absent
that this process never uses and that would otherwise load on every cold function:

- ``httpx._main``: ``import httpx`` also imports httpx's command-line client whenever click,
  rich and pygments are installed, and on Vercel they are (dashscope and uvicorn require
  them): 30-80 ms. Serving imports no httpx at all (the Upstash store speaks
  ``http.client``); the cron jobs this same function runs do. httpx falls back to a stub
  when it is absent.
- ``pydantic.v1``: FastAPI asks of every parameter a route declares whether it is a
  pydantic.v1 model, to refuse it, and imports ``pydantic.v1`` to ask (about 11 ms; read in
  fastapi/_compat/shared.py and fastapi/utils.py). No v1 model can exist unless something
  imported ``pydantic.v1``, and nothing here does: no installed package uses it. FastAPI's
  check catches the ImportError and answers "not a v1 model", as with a pydantic without v1.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: "no such module"
sys.modules.setdefault("pydantic.v1", None)  # type: ignore[arg-type]

from core.web.app import create_app  # noqa: E402  # after the lines above, which must come first

app = create_app()

"""Vercel entry point: the ASGI app. Settings or a config.json that do not load give an app
answering 503 with the fix (core.web.app), never an import that fails.

One line before it, for the cold start: ``import httpx`` also imports httpx's command-line
client whenever click, rich and pygments are installed, and on Vercel they are (dashscope
and uvicorn require them). That is 30-80 ms of every cold function on Upstash, for a command
line this process never runs (bench/coldstart.py); httpx falls back to a stub when it is absent.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: "no such module"

from core.web.app import create_app  # noqa: E402  # after the line above, which must come first

app = create_app()

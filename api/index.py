"""Vercel entry point: the ASGI app. Nothing else. Settings or a config.json that do not load
give an app answering 503 with the fix (core.web.app), never an import that fails."""

from core.web.app import create_app

app = create_app()

"""Vercel entry point: the ASGI app. Nothing else."""

from core.web.app import create_app

app = create_app()

"""Benchmark server: the real app under uvicorn, plus a static file as the baseline.

Run as ``python bench/serve_app.py PORT STATIC_DIR``; settings come from the environment.
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi.staticfiles import StaticFiles

from core.web import create_app


def main() -> None:
    port, static_dir = int(sys.argv[1]), sys.argv[2]
    app = create_app()
    app.mount("/bench-static", StaticFiles(directory=static_dir), name="bench-static")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()

"""Server-rendered pages: a subscribe page for salespeople and a source-health page for ops.

Jinja2 templates with autoescaping, one stylesheet and one small script (no
build step), a strict Content-Security-Policy, and nothing from a feed shown
unescaped.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.pages.routes import router

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Routes and static files: the one line `create_app` needs."""
    app.include_router(router)
    app.mount("/app/static", StaticFiles(directory=STATIC), name="page-static")

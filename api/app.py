"""The FastAPI application: feeds for feed readers, a JSON API for qualifying tools."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api.headers import PrivacyHeaders, keep_tokens_out_of_logs
from api.problems import install_problems
from api.render_cache import RenderCache
from api.routes import discoveries, feeds, items, ops, prospects, tag
from api import pages
from api.routes import metrics as metrics_routes
from api.settings import ApiSettings
from api.tagger import TaggerCache
from models.db import make_engine, make_sessionmaker

API_VERSION = "0.2.0"


def create_app(settings: ApiSettings, sessions: sessionmaker[Session] | None = None) -> FastAPI:
    app = FastAPI(title="prospect-intel", version=API_VERSION,
                  description="Curated prospect feeds (Atom, RSS, JSON Feed, OPML) and a JSON API. "
                              "Pass a private token as `?token=` or `Authorization: Bearer`.")
    app.state.settings = settings
    app.state.sessions = sessions or make_sessionmaker(make_engine(settings.database))
    app.state.tagger = TaggerCache(settings)
    app.state.renders = RenderCache(settings.render_cache_entries)
    app.state.entries = RenderCache(settings.render_cache_entries * 16)
    install_problems(app)
    app.add_middleware(PrivacyHeaders)
    keep_tokens_out_of_logs()
    for router in (feeds.router, prospects.router, items.router, tag.router, ops.router, discoveries.router):
        app.include_router(router)
    metrics_routes.install(app)  # /metrics and the feed-request counter
    pages.install(app)  # /app: the salesperson and ops pages
    return app

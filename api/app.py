"""The FastAPI application: feeds for feed readers, a JSON API for qualifying tools."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from api.routes import feeds, ops, prospects
from api.settings import ApiSettings
from models.db import make_engine, make_sessionmaker

API_VERSION = "0.1.0"


def create_app(settings: ApiSettings, sessions: sessionmaker[Session] | None = None) -> FastAPI:
    app = FastAPI(title="prospect-intel", version=API_VERSION,
                  description="Curated prospect feeds (Atom, RSS, JSON Feed) and a JSON API.")
    app.state.settings = settings
    app.state.sessions = sessions or make_sessionmaker(make_engine(settings.database))
    for router in (feeds.router, prospects.router, ops.router):
        app.include_router(router)
    return app

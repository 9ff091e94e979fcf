"""A small real site for the page tests: fetched items, tokens, a failing source, a config problem."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker

from intel.cli import _api_app
from intel.clock import utcnow
from intel.settings import Config
from models import ops, tokens
from tests.conftest import rss_feed, start_pipeline

NEWS = [
    {"title": "Apple Inc. raises $2 billion in new funding round", "link": "https://news.example.com/apple-funding",
     "guid": "apple-funding", "description": "Apple Inc. (AAPL) said on Monday it raised $2 billion for iPhone work."},
    {"title": "Snowflake Inc. names a new chief financial officer", "link": "https://news.example.com/snow-cfo",
     "guid": "snow-cfo", "description": "Snowflake Inc. appointed a new CFO to run its data cloud finances."},
    {"title": "Siemens AG wins a rail contract", "link": "https://news.example.com/siemens-rail",
     "guid": "siemens-rail", "description": "Siemens AG (SIE) won a contract for trains."},
    # Hostile feed content: must show as text, never run.
    {"title": 'Apple Inc. <script>alert("title")</script> opens a store as shares rise 5 < 6 & more',
     "link": "javascript:alert('link')", "guid": "hostile",
     "description": 'Apple Inc. <img src=x onerror="alert(\'img\')"> news <a href="javascript:alert(1)">click</a>'},
]
BAD_LINE = "/etc/intel/intel.yaml:14:12: sources.2.every: not a duration: 'soon' (use e.g. 90s, 30m, 2h, 1d)"


@dataclass
class Site:
    config: Config
    sessions: sessionmaker[Session]
    alice: str   # owns apple (qualifying) and snowflake (delivering)
    bob: str     # owns siemens
    admin: str

    def app(self, public_url: str | None = None):
        config = self.config
        if public_url:
            config = config.model_copy(update={"server": config.server.model_copy(update={"base_url": public_url})})
        return _api_app(config, self.sessions)


@pytest.fixture
def site(write_config, feed_server) -> Site:
    feed_server.serve("/news.xml", rss_feed(*NEWS, title="Business News"))
    feed_server.serve("/broken.xml", "down for maintenance", status=503)
    config = write_config(sources=[
        {"id": "business-news", "kind": "rss", "title": "Business News", "url": feed_server.url("/news.xml")},
        {"id": "flaky-wire", "kind": "rss", "title": "Flaky Wire", "url": feed_server.url("/broken.xml")}])
    pipeline, worker = start_pipeline(config)
    try:
        worker.tick()
    finally:
        worker.stop()
        pipeline.close()
    sessions = pipeline.sessions
    now = utcnow()
    with sessions.begin() as session:
        _, alice = tokens.create_token(session, user="alice@example.com", now=now)
        _, bob = tokens.create_token(session, user="bob@example.com", now=now)
        _, admin = tokens.create_token(session, user="ops@example.com", now=now, admin=True, all_prospects=True)
        ops.record_config_check(session, path="/etc/intel/intel.yaml", problems=[BAD_LINE], now=now)
    return Site(config=config, sessions=sessions, alice=alice, bob=bob, admin=admin)

"""A database of known items (external news, internal CRM notes), tokens, and the app over it.

Items are stored through the real storage path (`save_batch`) with the mentions
and signals the tagger would have produced, so feeds and the API can be tested
with exact expectations.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings, ChannelSpec
from intel.settings import SignalsConfig
from intel.signals import stage_map
from models import repository, tokens
from models.db import make_engine, make_sessionmaker, upgrade
from models.values import ItemToStore, Mention, RunRecord, Signal

NOW = datetime.now(timezone.utc).replace(microsecond=0)
SECRET_NOTE = "Confidential: budget approved for Q3"

PROSPECTS = [
    {"id": "apple", "name": "Apple Inc.", "aliases": ["Apple"], "domains": ["apple.com"], "people": ["Tim Cook"],
     "owner": ["alice@example.com"], "stage": "qualifying"},
    {"id": "siemens", "name": "Siemens AG", "domains": ["siemens.com"], "people": ["Roland Busch"],
     "owner": ["bob@example.com"], "stage": "prospecting"},
    {"id": "snowflake", "name": "Snowflake Inc.", "aliases": ["Snowflake"], "domains": ["snowflake.com"],
     "owner": ["alice@example.com"], "stage": "delivering"},
]
SOURCES = [
    {"id": "news", "kind": "rss", "url": "https://news.example.com/feed.xml", "title": "Example News",
     "visibility": "external", "settings": {}, "every_seconds": 1800.0, "cron": None},
    {"id": "crm-notes", "kind": "rss", "url": "https://crm.example.com/notes.xml", "title": "CRM notes",
     "visibility": "internal", "settings": {}, "every_seconds": 1800.0, "cron": None},
]
CHANNELS = (
    ChannelSpec(name="deals", title="Funding and acquisitions at my prospects in qualifying",
                signal=("funding", "acquisition"), stage=("qualifying",)),
    ChannelSpec(name="everything", title="Every prospect's news", all_prospects=True),
)


def news_item(key: str, title: str, days_ago: float, mentions, signals=(), summary: str = "",
              visibility: str = "external", url: str | None = "default") -> ItemToStore:
    return ItemToStore(
        dedup_key=key, guid=key, title=title, summary=summary or f"<p>{title}. More at <b>eleven</b>.</p>",
        url=f"https://news.example.com/{key}" if url == "default" else url,
        content_hash=hashlib.sha256(f"{title}|{summary}".encode()).hexdigest(), visibility=visibility,
        published_at=NOW - timedelta(days=days_ago),
        mentions=tuple(Mention(p, s, (f"title: name {p!r}",) + tuple(extra)) for p, s, *extra in mentions),
        signals=tuple(Signal(t, sc, (f"title: {t} phrase",), prospect_id=p) for t, sc, p in signals))


NEWS = [
    news_item("n1", "Apple raises $5B in bond funding", 2, [("apple", 0.9)], [("funding", 0.9, "apple")]),
    news_item("n2", "Siemens AG wins rail signalling contract", 5, [("siemens", 0.95)],
              [("contract_win", 0.8, "siemens")]),
    news_item("n3", "Snowflake and Siemens partner on industrial data", 10, [("snowflake", 0.8), ("siemens", 0.7)],
              [("partnership", 0.7, None)]),
    news_item("n4", "Tim Cook names a new Apple CFO", 1, [("apple", 0.8, "title: person 'Tim Cook'")],
              [("leadership_change", 0.85, "apple")]),
    news_item("n5", "Apple to acquire a small AI start-up", 40, [("apple", 0.75)], [("acquisition", 0.8, "apple")]),
    news_item("n6", "Snowflake opens a Paris region", 3, [("snowflake", 0.6)], [("expansion", 0.7, "snowflake")],
              url=None),
]
NOTES = [
    news_item("c1", "Call notes: Apple procurement", 1, [("apple", 1.0)], summary=SECRET_NOTE,
              visibility="internal", url=None),
]


@dataclass
class Seeded:
    url: str
    sessions: object
    tokens: dict[str, str] = field(default_factory=dict)

    def store(self, source_id: str, items) -> None:
        when = datetime.now(timezone.utc)
        run = RunRecord(started_at=when, finished_at=when, status="ok", next_check_at=when + timedelta(hours=1))
        with self.sessions.begin() as session:
            repository.save_batch(session, source_id, run, list(items))

    def token(self, name: str, **scope) -> str:
        with self.sessions.begin() as session:
            _, secret = tokens.create_token(session, now=datetime.now(timezone.utc), **scope)
        self.tokens[name] = secret
        return secret


@pytest.fixture
def seeded(database_url) -> Seeded:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        repository.sync_prospects(session, PROSPECTS, origin="config", now=NOW - timedelta(days=60))
        repository.sync_sources(session, SOURCES, now=NOW)
    seeded = Seeded(database_url, sessions)
    seeded.store("news", NEWS)
    seeded.store("crm-notes", NOTES)
    seeded.token("alice", user="alice@example.com")
    seeded.token("alice_internal", user="alice@example.com", internal=True)
    seeded.token("bob", user="bob@example.com")
    seeded.token("manager", user="boss@example.com", all_prospects=True, internal=True, admin=True)
    seeded.token("qualifier", user="tool@example.com", all_prospects=True)
    yield seeded
    engine.dispose()


def make_settings(url: str, public_url: str = "http://feeds.test", **overrides) -> ApiSettings:
    overrides.setdefault("signal_stages", stage_map(SignalsConfig()))  # the built-in taxonomy, as `intel` passes it
    return ApiSettings(database=url, public_url=public_url, page_size=50, max_age=120.0,
                       channels=CHANNELS, **overrides)


@pytest.fixture
def client(seeded):
    app = create_app(make_settings(seeded.url), seeded.sessions)
    with TestClient(app, base_url="http://feeds.test") as test_client:
        test_client.seeded = seeded
        yield test_client


# --- a live server on 127.0.0.1, for feed readers and the W3C validator ---------------------

@dataclass
class LiveServer:
    base_url: str
    seen: list[tuple[str, int]]  # (path with query, status) for every request answered
    app: object


@contextmanager
def on_loopback(app, sock: socket.socket):
    """`app` served by a real uvicorn in a thread on `sock` (bound to 127.0.0.1) until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_server(seeded):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    app = create_app(make_settings(seeded.url, public_url=base), seeded.sessions)
    seen: list[tuple[str, int]] = []

    async def recording(scope, receive, send):
        async def record(message):
            if message["type"] == "http.response.start":
                query = scope.get("query_string", b"").decode()
                seen.append((scope["path"] + (f"?{query}" if query else ""), message["status"]))
            await send(message)
        await app(scope, receive, record if scope["type"] == "http" else send)

    with on_loopback(recording, sock):
        yield LiveServer(base, seen, app)
    sock.close()

"""Shared fixtures: a real loopback HTTP server, real databases, config builders."""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import pytest
import yaml
from sqlalchemy import create_engine, text

from intel.config import load_config
from intel.pipeline import Pipeline
from intel.sync import sync_config
from intel.worker import Worker
from models.db import make_engine, make_sessionmaker, upgrade

POSTGRES_URL = os.environ.get("INTEL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DATA = Path(__file__).parent / "data"


# --- a real HTTP server on 127.0.0.1 -------------------------------------------------------

@dataclass
class Route:
    """What the server answers on one path; `handler` may replace the static answer."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    handler: Callable[["RecordingHandler"], None] | None = None


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        server = self

        class Handler(RecordingHandler):
            owner = server

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval, and every test closes a server.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def serve(self, path: str, body: bytes | str = b"", status: int = 200, **headers: str) -> str:
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route(body, status, {k.replace("_", "-"): v for k, v in headers.items()})
        return self.url(path)

    def requests_to(self, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.path.split("?")[0] == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class RecordingHandler(BaseHTTPRequestHandler):
    owner: FeedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self.owner.requests.append(SeenRequest(self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = self.owner.routes.get(self.path.split("?")[0])
        if route is None:
            self.answer(404, b"not found")
            return
        if route.handler is not None:
            route.handler(self)
            return
        etag = route.headers.get("ETag")
        if etag and self.headers.get("If-None-Match") == etag:
            self.answer(304, b"", route.headers)
            return
        last_modified = route.headers.get("Last-Modified")
        if last_modified and self.headers.get("If-Modified-Since") == last_modified and not etag:
            self.answer(304, b"", route.headers)
            return
        self.answer(route.status, route.body, route.headers)

    def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)


@pytest.fixture
def feed_server():
    server = FeedServer()
    yield server
    server.close()


# --- feed builders -------------------------------------------------------------------------

def rss_feed(*items: dict, title: str = "Test feed") -> str:
    """An RSS 2.0 document; each item a dict of title, link, guid, description, pubDate."""
    parts = []
    for item in items:
        fields = "".join(
            f"<{tag}>{_xml_escape(item[key])}</{tag}>"
            for key, tag in (("title", "title"), ("link", "link"), ("description", "description"),
                             ("pubDate", "pubDate")) if key in item)
        if "guid" in item:
            fields += f'<guid isPermaLink="false">{_xml_escape(item["guid"])}</guid>'
        parts.append(f"<item>{fields}</item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>https://news.example.com/</link><description>test</description>{''.join(parts)}"
            "</channel></rss>")


def _xml_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- databases -----------------------------------------------------------------------------

def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means: skip, and say why
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, or a private schema in the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'intel.db'}"
        return
    reason = _postgres_reachable()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


# --- config --------------------------------------------------------------------------------

DEFAULT_PROSPECTS = [
    {"id": "apple", "name": "Apple Inc.", "aliases": ["Apple"], "domains": ["apple.com"], "tickers": ["AAPL"],
     "people": ["Tim Cook"], "keywords": ["iPhone", "Mac"], "exclude": ["apple pie"], "ambiguous": True,
     "owner": "alice@example.com", "stage": "qualifying"},
    {"id": "siemens", "name": "Siemens AG", "domains": ["siemens.com"], "tickers": ["SIE"],
     "people": ["Roland Busch"], "owner": "bob@example.com", "stage": "prospecting"},
    {"id": "snowflake", "name": "Snowflake Inc.", "aliases": ["Snowflake"], "domains": ["snowflake.com"],
     "tickers": ["SNOW"], "keywords": ["data cloud"], "ambiguous": True, "owner": "alice@example.com",
     "stage": "delivering"},
]


@pytest.fixture
def write_config(tmp_path):
    """Write a config YAML into tmp_path and load it through the real loader."""

    def write(sources=(), prospects=None, database: str | None = None, **extra):
        data = {"database": database or f"sqlite:///{tmp_path / 'intel.db'}",
                "prospects": DEFAULT_PROSPECTS if prospects is None else list(prospects),
                "sources": [{"allow_private": True, **s} for s in sources], **extra}
        path = tmp_path / "intel.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return load_config(path)

    return write


def start_pipeline(config):
    """Migrate, sync the config and return a (Pipeline, Worker) pair, as `intel worker` does."""
    engine = make_engine(config.database)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    sync_config(sessions, config)
    pipeline = Pipeline(config, sessions)
    return pipeline, Worker(pipeline, name="test-worker")

"""Helpers for the reliability suite: hostile answers from a loopback server, runs, memory.

Hostile answers are `Route.handler`s on the shared `feed_server` fixture, so
every request is recorded and "nothing was fetched" can be asserted exactly.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import psutil
import pytest
from sqlalchemy import func, select

from models import repository
from models.tables import Item
from tests.conftest import FeedServer, Route, rss_feed

# Small limits so hostile answers are cut quickly; the defaults are tested in tests/connectors.
TIGHT_HTTP = {"deadline": "3s", "timeout": "2s", "max_body_mb": 1}
GOOD_ITEMS = [
    {"title": f"Siemens AG news {n}", "link": f"https://news.example.com/good/{n}", "guid": f"good-{n}",
     "description": "An ordinary story.", "pubDate": "Mon, 02 Nov 2026 10:00:00 GMT"} for n in range(3)]


def serve_good_feed(server: FeedServer) -> dict:
    """The well-behaved neighbour every hostile source shares a worker with."""
    return {"id": "good", "kind": "rss", "url": server.serve("/good.xml", rss_feed(*GOOD_ITEMS))}


def serve_handler(server: FeedServer, path: str, handler) -> str:
    server.routes[path] = Route(handler=handler)
    return server.url(path)


def item_count(sessions, *where) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Item).where(*where))


def health(sessions) -> dict[str, dict]:
    with sessions() as session:
        return {row["id"]: row for row in repository.sources_health(session)}


# --- hostile handlers ----------------------------------------------------------------------

def endless_body(handler, chunk: bytes = b"<!-- padding -->" * 4096) -> None:
    """Announce a 1 GB body and stream it until the client hangs up."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Content-Length", str(1024 ** 3))
    handler.end_headers()
    handler.wfile.write(b'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>')
    sent = 0
    try:
        while sent < 1024 ** 3:
            handler.wfile.write(chunk)
            sent += len(chunk)
    except OSError:  # the client stopped reading: what we want
        pass
    handler.close_connection = True


def drip(handler) -> None:
    """One byte a second, forever (until the client gives up)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    try:
        for byte in rss_feed(*GOOD_ITEMS).encode() * 10:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(1.0)
    except OSError:
        pass
    handler.close_connection = True


def reset_mid_body(handler) -> None:
    """Half the promised body, then a TCP reset (SO_LINGER 0 makes close() send RST)."""
    body = rss_feed(*GOOD_ITEMS).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/rss+xml")
    handler.send_header("Content-Length", str(len(body) * 4))
    handler.end_headers()
    handler.wfile.write(body[: len(body) // 2])
    handler.wfile.flush()
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.connection.close()
    handler.close_connection = True


# --- memory --------------------------------------------------------------------------------

@dataclass
class MemoryWatch:
    baseline: int
    peak: int = 0

    @property
    def growth_mb(self) -> float:
        return max(0, self.peak - self.baseline) / 2 ** 20


@contextmanager
def rss_growth() -> Iterator[MemoryWatch]:
    """Sample this process's resident memory every few milliseconds while the block runs.

    C allocations (libxml2, zlib, the database drivers) are invisible to
    tracemalloc, so the process's real footprint is what is measured.
    """
    process = psutil.Process()
    watch = MemoryWatch(baseline=process.memory_info().rss)
    watch.peak = watch.baseline
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            watch.peak = max(watch.peak, process.memory_info().rss)
            stop.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield watch
    finally:
        stop.set()
        sampler.join()
        watch.peak = max(watch.peak, process.memory_info().rss)


def finishes(target, *, within: float):
    """Run `target` in a thread; a hang guard (the suite must not hang), not a measurement."""
    result: list = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(target())
        except BaseException as exc:  # re-raised in the test thread
            error.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(within)
    assert not thread.is_alive(), f"still running after {within:g}s: the limits did not hold"
    if error:
        raise error[0]
    return result[0]


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """For behaviour that does not depend on the database (fetch limits, markup): one database is enough."""
    return f"sqlite:///{tmp_path / 'intel.db'}"

"""Faults: a worker killed mid-run, the database gone for a while, a feed server failing for an hour.

Every test counts items exactly: after the fault heals, each served entry is
stored once — none lost, none twice.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

import models.db
from intel import pipeline as pipeline_module, worker as worker_module
from models.tables import Item, Source
from tests.conftest import rss_feed, start_pipeline
from tests.reliability.conftest import health, item_count

REPO = Path(__file__).resolve().parents[2]


def entries(source: str, n: int) -> list[dict]:
    return [{"title": f"Siemens AG {source} update {i}", "link": f"https://news.example.com/{source}/{i}",
             "guid": f"{source}-{i}", "description": f"Entry {i} of {source}."} for i in range(n)]


def stored_keys(sessions) -> list[tuple[str, str]]:
    with sessions() as session:
        return [tuple(row) for row in session.execute(select(Item.source_id, Item.guid))]


# --- SIGKILL in the middle of a run ----------------------------------------------------------

def _intel_fetch(config_path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "intel.cli", "fetch", "--config", str(config_path)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


@pytest.mark.slow  # two worker processes start (spaCy import) and a lease runs out: ~20 s per database
def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(feed_server, tmp_path, database_url):
    """Six sources of 40 entries; the worker is SIGKILLed while its third fetch is held open by the
    server. A new worker run after the lease expires leaves exactly 240 items."""
    third_request = threading.Event()
    release = threading.Event()
    served = []

    def serve(name: str):
        body = rss_feed(*entries(name, 40)).encode()

        def handler(request) -> None:
            served.append(name)
            if len(served) == 3 and not release.is_set():
                third_request.set()
                release.wait(30)  # hold this fetch open until the worker is dead
            request.answer(200, body, {"Content-Type": "application/rss+xml"})
        return handler

    sources = []
    for n in range(6):
        name = f"wire{n}"
        feed_server.serve(f"/{name}.xml")
        feed_server.routes[f"/{name}.xml"].handler = serve(name)
        sources.append({"id": name, "kind": "rss", "url": feed_server.url(f"/{name}.xml"), "allow_private": True})
    config_path = tmp_path / "intel.yaml"
    config_path.write_text(yaml.safe_dump({
        "database": database_url, "prospects": [{"id": "siemens", "name": "Siemens AG"}], "sources": sources,
        "scheduler": {"workers": 2, "lease": "3s"}}), encoding="utf-8")

    victim = _intel_fetch(config_path)
    assert third_request.wait(120), victim.stderr.read().decode() if victim.poll() is not None else "no 3rd fetch"
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(10)
    release.set()
    time.sleep(3.5)  # the killed worker's leases run out

    survivor = _intel_fetch(config_path)
    _, err = survivor.communicate(timeout=180)
    assert survivor.returncode == 0, err.decode()[-2000:]

    engine = models.db.make_engine(database_url)
    sessions = models.db.make_sessionmaker(engine)
    keys = stored_keys(sessions)
    assert len(keys) == 240 and len(set(keys)) == 240
    assert {s: sum(1 for k in keys if k[0] == s) for s in {k[0] for k in keys}} == {f"wire{n}": 40 for n in range(6)}
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Source).where(Source.lease_owner.is_not(None))) == 0
    engine.dispose()


# --- SQLite locked by another process --------------------------------------------------------

LOCK_HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")  # the write lock, held until told to let go
connection.execute("UPDATE sources SET title = title")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


def _hold_write_lock(db_path: str) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, db_path], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_sqlite_locked_by_another_process_fails_the_run_cleanly_and_the_retry_stores_everything(
        feed_server, write_config, monkeypatch):
    monkeypatch.setattr(models.db, "SQLITE_BUSY_TIMEOUT_MS", 300)  # give up quickly instead of after 30 s
    holders: list[subprocess.Popen] = []
    body = rss_feed(*entries("news", 25)).encode()

    def handler(request) -> None:
        if not holders:  # the lock is taken after the claim, while the worker fetches
            holders.append(_hold_write_lock(db_path))
        request.answer(200, body, {"Content-Type": "application/rss+xml"})

    feed_server.serve("/news.xml")
    feed_server.routes["/news.xml"].handler = handler
    config = write_config([{"id": "news", "kind": "rss", "url": feed_server.url("/news.xml")}],
                          scheduler={"lease": "1s"})
    db_path = config.database.removeprefix("sqlite:///")
    pipeline, worker = start_pipeline(config)
    try:
        outcomes = worker.tick(only="news")  # one claim; a second would meet the lock (see the PostgreSQL test)
    finally:
        for holder in holders:
            holder.communicate("\n", timeout=10)
    assert [o.status for o in outcomes] == ["failed"]
    assert "storing failed: OperationalError" in outcomes[0].error
    assert item_count(pipeline.sessions) == 0  # nothing half-stored

    time.sleep(1.1)  # the lease the failed run could not release runs out
    [retry] = worker.tick()
    assert (retry.status, retry.counts.new) == ("ok", 25)
    assert sorted(g for _, g in stored_keys(pipeline.sessions)) == sorted(f"news-{i}" for i in range(25))


def test_a_short_sqlite_lock_only_delays_the_run(feed_server, write_config):
    """Within the busy timeout a writer waits for the lock instead of failing."""
    url = feed_server.serve("/news.xml", rss_feed(*entries("news", 10)))
    config = write_config([{"id": "news", "kind": "rss", "url": url}])
    pipeline, worker = start_pipeline(config)
    holder = _hold_write_lock(config.database.removeprefix("sqlite:///"))
    threading.Timer(1.0, lambda: holder.communicate("\n", timeout=10)).start()
    [outcome] = worker.tick()
    assert (outcome.status, outcome.counts.new) == ("ok", 10)
    assert item_count(pipeline.sessions) == 10


# --- PostgreSQL unreachable: a TCP proxy we cut and restore -----------------------------------

class CuttableProxy:
    """127.0.0.1:<port> -> the test PostgreSQL; `cut()` drops every connection and refuses new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.mark.postgres
def test_postgres_cut_mid_run_fails_cleanly_and_the_retry_stores_everything(feed_server, write_config,
                                                                           database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL half of the outage test")
    proxy = CuttableProxy(("127.0.0.1", 5432))
    proxied = database_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
    assert proxied != database_url
    cut_during_fetch = threading.Event()
    body = rss_feed(*entries("news", 30)).encode()

    def handler(request) -> None:
        if not cut_during_fetch.is_set():
            cut_during_fetch.set()
            proxy.cut()  # the database goes away between fetching and storing
        request.answer(200, body, {"Content-Type": "application/rss+xml"})

    feed_server.serve("/news.xml")
    feed_server.routes["/news.xml"].handler = handler
    try:
        config = write_config([{"id": "news", "kind": "rss", "url": feed_server.url("/news.xml")}],
                              database=proxied, scheduler={"lease": "1s"})
        pipeline, worker = start_pipeline(config)
        [outcome] = worker.tick(only="news")
        assert outcome.status == "failed" and "storing failed: OperationalError" in outcome.error
        with pytest.raises(Exception):  # still down: the scheduler's tick fails, and is only logged
            worker.tick()
        worker._safe_tick()  # what the scheduler calls: must not raise

        proxy.restore()
        time.sleep(1.1)  # the lease of the run that could not record its end runs out
        [retry] = worker.tick()
        assert (retry.status, retry.counts.new) == ("ok", 30)
        assert sorted(g for _, g in stored_keys(pipeline.sessions)) == sorted(f"news-{i}" for i in range(30))
        assert health(pipeline.sessions)["news"]["last_status"] == "ok"
        pipeline.close()
    finally:
        proxy.close()


# --- a feed server answering 500 for an hour (fake clock) -------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


def test_an_hour_of_500s_is_polled_a_few_times_with_backoff_then_recovers(feed_server, write_config,
                                                                          database_url, monkeypatch):
    clock = FakeClock()
    for module in (pipeline_module, worker_module):
        monkeypatch.setattr(module, "utcnow", clock)
    url = feed_server.serve("/flaky.xml", "upstream exploded", status=500)
    config = write_config([{"id": "flaky", "kind": "rss", "url": url, "every": "1m"}], database=database_url,
                          scheduler={"max_backoff": "30m"})
    pipeline, worker = start_pipeline(config)
    start = clock.now
    failures = 0
    while clock.now < start + timedelta(hours=1):
        for outcome in worker.tick():
            assert outcome.status == "failed" and "HTTP 500" in outcome.error
            failures += 1
        due = health(pipeline.sessions)["flaky"]["next_check_at"]
        due = due if due.tzinfo else due.replace(tzinfo=timezone.utc)
        clock.now = max(clock.now + timedelta(seconds=1), due)  # jump straight to the next due time
    # Every minute would be 60 requests; doubling from 1 min to the 30 min cap is 1+2+4+8+16+30 (+30).
    assert 5 <= failures <= 8, failures
    assert len(feed_server.requests_to("/flaky.xml")) == failures
    backed_off = health(pipeline.sessions)["flaky"]
    assert backed_off["error_count"] == failures and "HTTP 500" in backed_off["last_error"]

    feed_server.serve("/flaky.xml", rss_feed(*entries("flaky", 5)))  # healed
    due = backed_off["next_check_at"]
    clock.now = (due if due.tzinfo else due.replace(tzinfo=timezone.utc)) + timedelta(seconds=1)
    [recovered] = worker.tick()
    assert (recovered.status, recovered.counts.new) == ("ok", 5)
    healthy = health(pipeline.sessions)["flaky"]
    assert healthy["error_count"] == 0 and healthy["last_status"] == "ok"
    next_due = healthy["next_check_at"]
    next_due = next_due if next_due.tzinfo else next_due.replace(tzinfo=timezone.utc)
    assert next_due - clock.now <= timedelta(minutes=1, seconds=10)  # back to the normal interval

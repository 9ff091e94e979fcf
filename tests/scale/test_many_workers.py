"""Three real `intel worker` processes share one database (PostgreSQL, or one SQLite file) and 300
sources on a loopback server.

Each source must be fetched once per interval no matter how many workers tick,
and a worker killed with SIGKILL must not strand the sources it had leased.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from tests.conftest import rss_feed

SOURCES = 300
WORKERS = 3


def serve_sources(feed_server, delay: float) -> list[dict]:
    """300 small feeds, each answered after `delay` seconds (a worker is mid-run meanwhile)."""

    def slow(body: bytes):
        def handler(request) -> None:
            time.sleep(delay)
            request.answer(200, body, {"Content-Type": "application/rss+xml"})
        return handler

    sources = []
    for n in range(SOURCES):
        path = f"/feeds/{n}.xml"
        body = rss_feed({"title": f"Story {n}", "link": f"https://news.example.com/{n}", "guid": f"story-{n}",
                         "description": "Siemens AG opens a plant."}).encode()
        feed_server.serve(path)
        feed_server.routes[path].handler = slow(body)
        sources.append({"id": f"s{n:03d}", "kind": "rss", "url": feed_server.url(path), "every": "1h"})
    return sources


def start_workers(config_path: Path, logs: Path, count: int) -> list[tuple[subprocess.Popen, Path]]:
    workers = []
    for index in range(count):
        log = logs / f"worker{index}.log"
        process = subprocess.Popen([sys.executable, "-m", "intel.cli", "worker", "--config", str(config_path)],
                                   stdout=subprocess.DEVNULL, stderr=log.open("wb"),
                                   cwd=Path(__file__).parents[2])
        workers.append((process, log))
    return workers


def stop_workers(workers) -> None:
    for process, _ in workers:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process, _ in workers:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(predicate, timeout: float, what: str, workers) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        for process, log in workers:
            if process.returncode is None and process.poll() is not None and process.returncode != -9:
                pytest.fail(f"a worker exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    logs = "\n".join(log.read_text()[-1500:] for _, log in workers)
    pytest.fail(f"timed out waiting for {what}\n{logs}")


def stored_by(log: Path) -> set[str]:
    """Source ids this worker logged a successful run for."""
    return {line.split("source ", 1)[1].split(":", 1)[0]
            for line in log.read_text().splitlines() if ": ok, " in line and "source " in line}


def fetched(engine) -> int:
    """Sources with a successful run so far (0 while the workers are still migrating the schema)."""
    try:
        with engine.connect() as connection:
            return connection.scalar(text("SELECT count(*) FROM sources WHERE last_success_at IS NOT NULL"))
    except (OperationalError, ProgrammingError):  # no table yet (SQLite, PostgreSQL)
        return 0


def worker_name(process: subprocess.Popen) -> str:
    return f"{socket.gethostname()}:{process.pid}"


@pytest.fixture
def cluster(feed_server, write_config, tmp_path, database_url):
    """A config for three workers on a fresh database: short lease and tick, no per-host bottleneck."""

    def make(delay: float):
        sources = serve_sources(feed_server, delay)
        write_config(sources=sources, database=database_url,
                     scheduler={"tick": 0.5, "lease": 4, "workers": 4}, http={"per_host": 8})
        return tmp_path / "intel.yaml", create_engine(database_url)

    return make


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_three_workers_fetch_every_source_exactly_once(cluster, feed_server, tmp_path):
    config_path, engine = cluster(delay=0.1)
    workers = start_workers(config_path, tmp_path, WORKERS)
    try:
        def all_fetched() -> bool:
            return fetched(engine) == SOURCES
        wait_until(all_fetched, 150, "all 300 sources to be fetched", workers)
        time.sleep(1.5)  # three more ticks of every worker: nothing may be fetched again
    finally:
        stop_workers(workers)

    per_path = Counter(r.path for r in feed_server.requests)
    assert len(per_path) == SOURCES
    assert set(per_path.values()) == {1}, {p: c for p, c in per_path.items() if c != 1}
    shares = [stored_by(log) for _, log in workers]
    assert all(shares), f"every worker should have taken part: {[len(s) for s in shares]}"
    assert sum(len(s) for s in shares) == SOURCES and set().union(*shares) == {f"s{n:03d}" for n in range(SOURCES)}
    with engine.connect() as connection:
        runs = connection.execute(text("SELECT source_id, count(*) FROM source_runs GROUP BY source_id")).all()
        leased = connection.scalar(text("SELECT count(*) FROM sources WHERE lease_owner IS NOT NULL"))
    assert {count for _, count in runs} == {1} and len(runs) == SOURCES
    assert leased == 0


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                         indirect=True)
def test_sources_of_a_killed_worker_are_fetched_by_the_others_after_its_lease(cluster, feed_server, tmp_path):
    config_path, engine = cluster(delay=0.3)
    workers = start_workers(config_path, tmp_path, WORKERS)
    victim = workers[0][0]
    try:
        def leases_of_victim() -> list[tuple[str, object]]:
            with engine.connect() as connection:
                return connection.execute(text("SELECT id, lease_until FROM sources WHERE lease_owner = :owner"),
                                          {"owner": worker_name(victim)}).all()

        def victim_mid_run() -> bool:
            return fetched(engine) >= 20 and bool(leases_of_victim())
        wait_until(victim_mid_run, 120, "the first worker to be mid-run", workers)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        orphaned = dict(leases_of_victim())
        assert orphaned, "the killed worker held leases"

        def all_fetched() -> bool:
            return fetched(engine) == SOURCES
        wait_until(all_fetched, 150, "the other workers to fetch every source", workers)
    finally:
        stop_workers(workers)

    survivors = stored_by(workers[1][1]) | stored_by(workers[2][1])
    assert set(orphaned) <= survivors
    with engine.connect() as connection:
        runs = dict(connection.execute(text(
            "SELECT source_id, min(started_at) FROM source_runs WHERE status = 'ok' GROUP BY source_id "
            "HAVING count(*) = 1")).all())
        leased = connection.scalar(text("SELECT count(*) FROM sources WHERE lease_owner IS NOT NULL"))
    assert len(runs) == SOURCES, "every source stored exactly one successful run"
    for source_id, lease_until in orphaned.items():
        assert runs[source_id] >= lease_until, f"{source_id} was taken over before its lease expired"
    assert leased == 0
    per_path = Counter(r.path for r in feed_server.requests)
    orphaned_paths = {f"/feeds/{int(source_id[1:])}.xml" for source_id in orphaned}
    assert all(per_path[p] == 1 for p in per_path if p not in orphaned_paths)
    assert all(1 <= per_path[p] <= 2 for p in orphaned_paths)  # the killed worker may have asked once

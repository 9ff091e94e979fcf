"""Serving latency: per-prospect Atom feeds from 1,000,000 items and 10,000 prospects, SQLite and PostgreSQL.

For each database, in one run, against the real app (`intel serve` with
`server.workers` processes) with concurrent clients:
  - a trivial endpoint of the same app (/healthz: routing, one `SELECT 1`) -- the floor;
  - the 304 path: a feed reader re-polling with the ETag it got (query, no render);
  - a full render of a prospect's Atom feed, each prospect asked for the first time
    (query, load, render, send: no rendering of it is cached anywhere);
  - the same feeds asked again without validators (a rendering kept under the
    feed's ETag answers, in the worker process that rendered it).
Goal: p99 of a full feed under 100 ms on both databases. The clients run in this
process on the same machine: on 2 CPUs they take a good share of it, which the
trivial endpoint shows. Each path also reports the server's CPU per request (its
own processes): it moves less with what else the machine runs than latency does,
but it does move (/healthz: 1.5 ms at load ~3, 3.2 ms at load ~8), so compare two
versions by it at similar load, or alternate them (--server-root) in one session.

    .venv/bin/python bench/serve.py [--quick] [--only sqlite|postgres] [--workers N] [--reuse DIR]

--reuse DIR keeps the loaded databases (a SQLite file in DIR, a PostgreSQL schema
named after the size) and measures them again in later runs instead of loading
1,000,000 items each time (the load time is then not measured).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (EPOCH, EVENTS, Stopwatch, companies, machine, median, owners_for,  # noqa: E402
                          percentile, summary_line, vocabulary)

FULL = {"items": 1_000_000, "prospects": 10_000, "sources": 1000, "requests": 2000}
QUICK = {"items": 20_000, "prospects": 10_000, "sources": 200, "requests": 300}
CLIENTS = 4
WORKERS = 2  # `server.workers`: one serving process per core of the bench machine
POSTGRES_URL = os.environ.get("INTEL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SIGNAL_TYPES = ("funding", "acquisition", "leadership_change", "hiring", "expansion", "product_launch",
                "partnership", "contract_win", "earnings")


# --- loading --------------------------------------------------------------------------------

def load(url: str, size: dict, prospects: list[dict]) -> dict[str, float]:
    """Migrate and bulk-load items, mentions and signals; returns timings and counts."""
    from models.bulk import (after_bulk_load, insert_items, insert_mentions, insert_prospects, insert_signals,
                             insert_sources, table_counts)
    from models.db import make_engine, make_sessionmaker, upgrade

    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    rnd = random.Random(42)
    words = vocabulary()
    now = datetime.fromtimestamp(EPOCH, tz=timezone.utc)
    ids = [p["id"] for p in prospects]
    with Stopwatch() as clock, sessions.begin() as session:
        insert_prospects(session, ({"id": p["id"], "name": p["name"], "aliases": [], "domains": p.get("domains", []),
                                    "tickers": p.get("tickers", []), "people": [], "keywords": [], "exclude": [],
                                    "owners": p["owner"], "stage": p["stage"], "industry": p.get("industry"),
                                    "ambiguous": None, "origin": "config", "updated_at": now} for p in prospects))
        insert_sources(session, ({"id": f"wire-{n}", "kind": "rss", "url": f"https://wire{n}.example.com/feed.xml",
                                  "title": f"Business wire {n}", "visibility": "external", "settings": {},
                                  "every_seconds": 1800.0, "enabled": True, "error_count": 0, "next_check_at": now}
                                 for n in range(size["sources"])))
        mentions: list[dict] = []
        signals: list[dict] = []

        def items():
            for item_id in range(1, size["items"] + 1):
                when = now - timedelta(seconds=item_id * 7)
                # A few prospects are in the news all the time, most now and then (Zipf-like).
                about = {ids[int(len(ids) * rnd.random() ** 2)] for _ in range(1 + (rnd.random() < 0.3))}
                name = next(iter(about))
                title = f"{name.replace('-', ' ').title()} {rnd.choice(EVENTS)}"
                summary = f"<p>{' '.join(rnd.choice(words) for _ in range(40))}.</p>"
                for prospect_id in about:
                    mentions.append({"item_id": item_id, "prospect_id": prospect_id,
                                     "score": round(0.5 + rnd.random() / 2, 2),
                                     "evidence": [f"title: name {name!r}"], "sort_at": when})
                if rnd.random() < 0.3:
                    signals.append({"item_id": item_id, "prospect_id": name, "type": rnd.choice(SIGNAL_TYPES),
                                    "score": 0.8, "role": None, "evidence": ["title: keyword"]})
                key = hashlib.sha256(str(item_id).encode()).hexdigest()
                yield {"id": item_id, "source_id": f"wire-{item_id % size['sources']}", "dedup_key": key,
                       "guid": f"item-{item_id}", "url": f"https://news.example.com/{item_id}", "title": title,
                       "summary": summary, "content": "", "author": None, "visibility": "external",
                       "content_hash": key, "published_at": when, "first_seen_at": when, "updated_at": when,
                       "sort_at": when}

        batch: list[dict] = []
        for row in items():
            batch.append(row)
            if len(batch) == 20_000:
                insert_items(session, batch)
                insert_mentions(session, mentions)
                insert_signals(session, signals)
                batch, mentions[:], signals[:] = [], [], []
        insert_items(session, batch)
        insert_mentions(session, mentions)
        insert_signals(session, signals)
    with sessions.begin() as session:
        after_bulk_load(session)
        counts = table_counts(session)
    engine.dispose()
    return {"load_s": clock.seconds, **counts}


# --- serving --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, url: str, workers: int = 1,
                 root: Path = Path(__file__).resolve().parents[1]) -> tuple[subprocess.Popen, str]:
    """`intel serve` of the checkout at `root` in its own process(es); returns it and its base URL."""
    import yaml

    port = free_port()
    config = folder / "serve.yaml"
    server = {"host": "127.0.0.1", "port": port, **({"workers": workers} if workers != 1 else {})}
    config.write_text(yaml.safe_dump({"database": url, "server": server, "auth": {"required": False}}),
                      encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "intel.cli", "serve", "--config", str(config)],
                               stdout=subprocess.DEVNULL, stderr=(folder / "serve.log").open("wb"),
                               cwd=root, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"intel serve did not come up:\n{(folder / 'serve.log').read_text()[-2000:]}")


def hammer(base: str, paths: list[tuple[str, dict]], expect: int) -> list[float]:
    """Request every (path, headers) with CLIENTS concurrent keep-alive clients; latencies in ms.

    Each client is a process of its own: client threads in one process would wait for one
    another's GIL and add that wait to the latencies they measure.
    """
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(CLIENTS, mp_context=context) as pool:
        results = list(pool.map(_client, [base] * CLIENTS, [paths[n::CLIENTS] for n in range(CLIENTS)],
                                [expect] * CLIENTS))
    problems = [p for _, found in results for p in found]
    if problems:
        raise SystemExit(f"{len(problems)} unexpected answers, e.g. {problems[:3]}")
    return [ms for latencies, _ in results for ms in latencies]


def _client(base: str, paths: list[tuple[str, dict]], expect: int) -> tuple[list[float], list[str]]:
    import httpx

    latencies: list[float] = []
    problems: list[str] = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for path, headers in paths:
            start = time.perf_counter()
            response = http.get(path, headers=headers)
            _ = response.content
            latencies.append((time.perf_counter() - start) * 1000)
            if response.status_code != expect:
                problems.append(f"{path}: {response.status_code}")
    return latencies, problems


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time the server's processes (supervisor and workers) have used so far."""
    import psutil

    total = 0.0
    server = psutil.Process(pid)
    for process in [server, *server.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:  # a process that ended meanwhile
            continue
        total += times.user + times.system
    return total


def measure(base: str, prospect_ids: list[str], requests: int,
            server_pid: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Latencies per path, and the server's CPU per request on each (ms). Each path asks for prospects
    no earlier path asked for, so a full render is never answered from a rendering kept by an earlier
    request, except on the `repeat` path.

    The CPU figure counts the app's own processes only (not PostgreSQL's, nor the clients').
    """
    import httpx

    rnd = random.Random(7)
    picks = rnd.sample(prospect_ids, min(len(prospect_ids), 2 * requests + 50))
    warm, conditional, full = picks[:50], picks[50:50 + requests], picks[50 + requests:]
    hammer(base, [(f"/feeds/prospects/{p}.atom", {}) for p in warm] + [("/healthz", {})] * 50, 200)
    etags = {}
    with httpx.Client(base_url=base, timeout=30) as http:
        for prospect_id in conditional:
            etags[prospect_id] = http.get(f"/feeds/prospects/{prospect_id}.atom").headers["etag"]
    paths = {
        "trivial": [("/healthz", {})] * requests,
        "not_modified": [(f"/feeds/prospects/{p}.atom", {"If-None-Match": etags[p]}) for p in conditional],
        "full": [(f"/feeds/prospects/{p}.atom", {}) for p in full],
        "repeat": [(f"/feeds/prospects/{p}.atom", {}) for p in full],
    }
    latencies: dict[str, list[float]] = {}
    cpu_ms: dict[str, float] = {}
    for path, asked in paths.items():
        before = server_cpu_seconds(server_pid)
        latencies[path] = hammer(base, asked, 304 if path == "not_modified" else 200)
        cpu_ms[path] = (server_cpu_seconds(server_pid) - before) * 1000 / len(asked)
    return latencies, cpu_ms


def postgres_schema(name: str | None = None) -> tuple[str, callable]:
    """A fresh schema (dropped by the returned callable), or the schema `name`, kept."""
    from sqlalchemy import create_engine, text

    schema = name or f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    if name:
        admin.dispose()
        return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}", lambda: None

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}", drop


def loaded_items(url: str) -> int:
    """Items already in a kept database (0 when it is new)."""
    from sqlalchemy import inspect

    from models.db import make_engine, make_sessionmaker
    from models.repository import count_items

    engine = make_engine(url)
    try:
        if "items" not in inspect(engine).get_table_names():
            return 0
        with make_sessionmaker(engine)() as session:
            return count_items(session)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a reduced size that finishes in under a minute")
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="measure one database only")
    parser.add_argument("--workers", type=int, default=WORKERS, help="server.workers of the measured server")
    parser.add_argument("--reuse", type=Path, metavar="DIR",
                        help="keep the loaded databases and measure them again in later runs")
    parser.add_argument("--server-root", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the checkout whose `intel serve` is measured (to compare two versions on the same data)")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    prospects = owners_for(companies(size["prospects"]))
    print(f"serve: {size['items']} items, {size['prospects']} prospects, {CLIENTS} concurrent clients, "
          f"{size['requests']} requests per path, server.workers {args.workers}; {machine()}, "
          f"load average {os.getloadavg()[0]:.1f}{' (--quick)' if args.quick else ''}")
    figures: dict[str, float] = {}
    backends = [args.only] if args.only else ["sqlite", "postgres"]
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        for backend in backends:
            folder = Path(tmp) / backend
            folder.mkdir()
            drop = None
            items = size["items"]
            url = f"sqlite:///{(args.reuse or folder) / f'serve-{items}.db'}"
            if args.reuse:
                args.reuse.mkdir(parents=True, exist_ok=True)
            if backend == "postgres":
                url, drop = postgres_schema(f"bench_serve_{items}" if args.reuse else None)
            try:
                already = loaded_items(url) if args.reuse else 0
                if already == size["items"]:
                    print(f"  {backend}: {already} items loaded by an earlier run (--reuse)")
                else:
                    if already:
                        raise SystemExit(f"{url} holds {already} items, not {size['items']}: remove it first")
                    loaded = load(url, size, prospects)
                    print(f"  {backend}: loaded {loaded['items']} items, {loaded['mentions']} mentions, "
                          f"{loaded['signals']} signals in {loaded['load_s']:.0f} s")
                server, base = start_server(folder, url, args.workers, args.server_root)
                try:
                    latencies, cpu_ms = measure(base, [p["id"] for p in prospects], size["requests"], server.pid)
                finally:
                    server.terminate()
                    server.wait(30)
            finally:
                if drop:
                    drop()
            floor = median(latencies["trivial"])
            for path, label in (("trivial", "trivial /healthz"), ("not_modified", "304 (ETag matches)"),
                                ("full", "full Atom render"), ("repeat", "same feed again")):
                p50, p99 = median(latencies[path]), percentile(latencies[path], 99)
                print(f"    {label:<20} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  p50 = {p50 / floor:4.1f}x trivial  "
                      f"server CPU {cpu_ms[path]:5.1f} ms/request")
                figures[f"{backend}_{path}_p50_ms"] = p50
                figures[f"{backend}_{path}_p99_ms"] = p99
                figures[f"{backend}_{path}_cpu_ms"] = round(cpu_ms[path], 2)
            full99 = figures[f"{backend}_full_p99_ms"]
            print(f"    full render p50 = {figures[f'{backend}_full_p50_ms'] / figures[f'{backend}_not_modified_p50_ms']:.1f}x "
                  f"the 304 path; p99 {full99:.0f} ms {'meets' if full99 < 100 else 'MISSES'} the 100 ms goal")
    print(summary_line(**figures, workers=args.workers, quick=int(args.quick)))


if __name__ == "__main__":
    main()

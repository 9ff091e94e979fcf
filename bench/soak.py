"""Soak: ingestion running while 200 feed readers poll with conditional requests, SQLite and PostgreSQL.

For each database, `intel run` (scheduler and API in one process, the
single-machine default) ingests a farm of rolling feeds (every fetch brings new
items) while 200 concurrent simulated feed readers poll per-prospect and
per-salesperson feeds in all three formats, each re-polling with the ETag and
Last-Modified it got last (as feed readers do). Measured:
  - error responses (anything but 200/304, or a failed connection): must be 0;
  - `database is locked` in the server's log: must be 0;
  - the server's resident memory, sampled every 2 s: flat (last third vs first third, after warm-up);
  - request latency percentiles (p50, p99) and the share of 304s;
  - items ingested during the run.

    .venv/bin/python bench/soak.py [--quick] [--only sqlite|postgres] [--readers 200] [--seconds 600]

--quick runs one minute per database. The last line is key=value pairs.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (FeedFarm, companies, machine, median, owners_for, percentile,  # noqa: E402
                          summary_line, write_config)
from bench.serve import free_port, postgres_schema  # noqa: E402

FEEDS, ITEMS_PER_FETCH, PROSPECTS, REPS = 20, 10, 200, 20
WARM_UP = 10.0  # seconds before memory samples count: imports, first renders, caches filling


class Readers:
    """`count` feed readers, each polling one feed with the validators it last got."""

    def __init__(self, base: str, paths: list[str], count: int, seconds: float) -> None:
        self.base, self.paths, self.count, self.seconds = base, paths, count, seconds
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        threads = [threading.Thread(target=self._reader, args=(n,), daemon=True) for n in range(self.count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _reader(self, n: int) -> None:
        import httpx

        rnd = random.Random(n)
        path = self.paths[n % len(self.paths)]
        validators: dict[str, str] = {}
        until = time.monotonic() + self.seconds
        time.sleep(rnd.uniform(0, 2))  # readers do not all start on the same tick
        with httpx.Client(base_url=self.base, timeout=30) as http:
            while time.monotonic() < until:
                start = time.perf_counter()
                try:
                    response = http.get(path, headers=validators)
                    _ = response.content
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.errors.append(f"{path}: {type(exc).__name__}: {exc}")
                    time.sleep(1)
                    continue
                elapsed = (time.perf_counter() - start) * 1000
                with self.lock:
                    self.latencies.append(elapsed)
                    self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
                    if response.status_code not in (200, 304):
                        self.errors.append(f"{path}: HTTP {response.status_code}")
                if response.status_code == 200:
                    validators = {k: v for k, v in (("If-None-Match", response.headers.get("etag")),
                                                    ("If-Modified-Since", response.headers.get("last-modified")))
                                  if v}
                time.sleep(rnd.uniform(0.5, 2.0))  # a very impatient reader: real ones poll every few minutes


def rss_samples(pid: int, stop: threading.Event, samples: list[tuple[float, float]]) -> None:
    import psutil

    process = psutil.Process(pid)
    started = time.monotonic()
    while not stop.is_set():
        try:
            rss = process.memory_info().rss + sum(c.memory_info().rss for c in process.children(recursive=True))
        except psutil.Error:
            return
        samples.append((time.monotonic() - started, rss / 2 ** 20))
        stop.wait(2.0)


def item_count(url: str) -> int:
    from sqlalchemy import func, select

    from models.db import make_engine, make_sessionmaker
    from models.tables import Item

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            return session.scalar(select(func.count()).select_from(Item))
    finally:
        engine.dispose()


def soak(label: str, url: str, readers: int, seconds: float, farm: FeedFarm, prospects: list[dict]) -> dict:
    import httpx

    folder = Path(tempfile.mkdtemp(prefix=f"soak-{label}-"))
    port = free_port()
    config = write_config(folder, url, farm.urls(), prospects, workers=4, per_host=4,
                          server={"host": "127.0.0.1", "port": port, "base_url": f"http://127.0.0.1:{port}"},
                          auth={"required": False})
    # Sources every 5 s (the farm rolls: each fetch is new items), so ingestion never pauses.
    text = config.read_text(encoding="utf-8").replace("every: 1h", "every: 5s")
    config.write_text(text, encoding="utf-8")
    log = folder / "run.log"
    process = subprocess.Popen([sys.executable, "-m", "intel.cli", "run", "--config", str(config)],
                               stdout=subprocess.DEVNULL, stderr=log.open("wb"),
                               cwd=Path(__file__).resolve().parents[1])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"intel run did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        users = sorted({owner for p in prospects for owner in p["owner"]})
        paths = ([f"/feeds/prospects/{p['id']}.{fmt}" for p in prospects[:60] for fmt in ("atom", "rss", "json")]
                 + [f"/feeds/users/{u}.{fmt}" for u in users for fmt in ("atom", "rss", "json")])
        random.Random(3).shuffle(paths)
        items_before = item_count(url)
        stop = threading.Event()
        samples: list[tuple[float, float]] = []
        sampler = threading.Thread(target=rss_samples, args=(process.pid, stop, samples), daemon=True)
        sampler.start()
        crowd = Readers(base, paths, readers, seconds)
        crowd.run()
        stop.set()
        sampler.join()
        items_after = item_count(url)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    log_text = log.read_text(errors="replace")
    steady = [rss for at, rss in samples if at >= WARM_UP]
    third = max(1, len(steady) // 3)
    first, last = median(steady[:third]), median(steady[-third:])
    result = {
        "requests": len(crowd.latencies), "errors": len(crowd.errors),
        "not_modified_share": crowd.statuses.get(304, 0) / max(1, len(crowd.latencies)),
        "p50_ms": percentile(crowd.latencies, 50), "p99_ms": percentile(crowd.latencies, 99),
        "locked": log_text.count("database is locked"), "tracebacks": log_text.count("Traceback"),
        "items_ingested": items_after - items_before,
        "rss_first_mb": first, "rss_last_mb": last, "rss_growth_mb": last - first,
        "rss_max_mb": max((rss for _, rss in samples), default=float("nan")),
    }
    print(f"\n{label}: {readers} readers for {seconds:.0f} s while ingesting {FEEDS} rolling feeds")
    print(f"  requests {result['requests']}, errors {result['errors']}, 304s {result['not_modified_share']:.0%}, "
          f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms")
    print(f"  items ingested during the soak {result['items_ingested']}; 'database is locked' in the log "
          f"{result['locked']}; tracebacks {result['tracebacks']}")
    print(f"  server RSS {first:.0f} MB -> {last:.0f} MB (max {result['rss_max_mb']:.0f} MB, "
          f"growth {result['rss_growth_mb']:+.0f} MB)")
    if crowd.errors:
        print("  e.g. " + "; ".join(crowd.errors[:3]))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one minute per database instead of ten")
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args()
    seconds = args.seconds or (60.0 if args.quick else 600.0)
    print(f"soak: {machine()}")
    prospects = owners_for(companies(PROSPECTS), reps=REPS)
    farm = FeedFarm(FEEDS, ITEMS_PER_FETCH, [p["name"] for p in prospects], rolling=True)
    figures: dict[str, object] = {"readers": args.readers, "seconds": seconds}
    ok = True
    try:
        for label in ("sqlite", "postgres"):
            if args.only and args.only != label:
                continue
            if label == "sqlite":
                url, cleanup = f"sqlite:///{tempfile.mkdtemp(prefix='soak-db-')}/intel.db", (lambda: None)
            else:
                url, cleanup = postgres_schema()
            try:
                result = soak(label, url, args.readers, seconds, farm, prospects)
            finally:
                cleanup()
            flat = result["rss_growth_mb"] <= max(50.0, 0.2 * result["rss_first_mb"])
            ok = ok and result["errors"] == 0 and result["locked"] == 0 and flat and result["items_ingested"] > 0
            for key in ("requests", "errors", "locked", "p50_ms", "p99_ms", "rss_growth_mb", "items_ingested"):
                figures[f"{label}_{key}"] = result[key]
    finally:
        farm.close()
    figures["ok"] = ok
    print(summary_line(**figures))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

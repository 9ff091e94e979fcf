"""Soak: ingestion running while 200 feed readers poll with conditional requests, SQLite and PostgreSQL.

For each database, as in production, `intel worker` (scheduler and pipeline)
ingests a farm of rolling feeds (every fetch brings new items) in its own
process while `intel serve` (`server.workers` processes) answers 200 concurrent
simulated feed readers polling per-prospect and per-salesperson feeds in all
three formats, each re-polling with the ETag and Last-Modified it got last (as
feed readers do). `--mode run` measures `intel run` instead (scheduler and API
in one process, the single-machine default). Measured:
  - error responses (anything but 200/304, or a failed connection): must be 0;
  - `database is locked` in the servers' logs: must be 0;
  - resident memory of the serving processes and of the worker, sampled every 2 s:
    flat (last third vs first third, after warm-up);
  - request latency percentiles (p50, p99) and the share of 304s;
  - items ingested during the run.
The readers run in a few processes of their own (threads of one process would
wait for one another's GIL and count that wait as latency).

    .venv/bin/python bench/soak.py [--quick] [--only sqlite|postgres] [--readers 200] [--seconds 600]
                                   [--serve-workers 2] [--mode split|run]

--quick runs one minute per database. The last line is key=value pairs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
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
    """`count` feed readers, each polling one feed with the validators it last got, in `processes`
    processes of threads."""

    def __init__(self, base: str, paths: list[str], count: int, seconds: float, processes: int = 4) -> None:
        self.base, self.paths, self.count, self.seconds = base, paths, count, seconds
        self.processes = max(1, min(processes, count))
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors: list[str] = []

    def run(self) -> None:
        context = multiprocessing.get_context("fork")
        results = context.Queue()
        groups = [list(range(n, self.count, self.processes)) for n in range(self.processes)]
        workers = [context.Process(target=self._group, args=(group, results), daemon=True) for group in groups]
        for worker in workers:
            worker.start()
        for _ in workers:
            latencies, statuses, errors = results.get(timeout=self.seconds + 600)
            self.latencies.extend(latencies)
            for status, count in statuses.items():
                self.statuses[status] = self.statuses.get(status, 0) + count
            self.errors.extend(errors)
        for worker in workers:
            worker.join(30)

    def _group(self, readers: list[int], results) -> None:
        self.lock = threading.Lock()
        threads = [threading.Thread(target=self._reader, args=(n,), daemon=True) for n in readers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        results.put((self.latencies, self.statuses, self.errors))

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


def item_count(url: str, table: str = "items") -> int:
    from sqlalchemy import func, inspect, select

    from models.db import make_engine, make_sessionmaker
    from models.tables import Item, Prospect

    engine = make_engine(url)
    try:
        if table not in inspect(engine).get_table_names():
            return 0
        with make_sessionmaker(engine)() as session:
            return session.scalar(select(func.count()).select_from(Prospect if table == "prospects" else Item))
    finally:
        engine.dispose()


def start(args: list[str], log: Path, root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "intel.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=log.open("wb"), cwd=root)


def soak(label: str, url: str, readers: int, seconds: float, farm: FeedFarm, prospects: list[dict], *,
         mode: str = "split", serve_workers: int = 2) -> dict:
    import httpx

    root = Path(__file__).resolve().parents[1]
    folder = Path(tempfile.mkdtemp(prefix=f"soak-{label}-"))
    port = free_port()
    server = {"host": "127.0.0.1", "port": port, "base_url": f"http://127.0.0.1:{port}"}
    if mode == "split" and serve_workers != 1:
        server["workers"] = serve_workers
    config = write_config(folder, url, farm.urls(), prospects, workers=4, per_host=4, server=server,
                          auth={"required": False})
    # Sources every 5 s (the farm rolls: each fetch is new items), so ingestion never pauses.
    text = config.read_text(encoding="utf-8").replace("every: 1h", "every: 5s")
    config.write_text(text, encoding="utf-8")
    logs: list[Path] = []
    processes: dict[str, subprocess.Popen] = {}
    base = f"http://127.0.0.1:{port}"
    try:
        if mode == "run":
            logs.append(folder / "run.log")
            processes["server"] = start(["run", "--config", str(config)], logs[-1], root)
        else:
            # The worker migrates and syncs the prospects; the API starts once they are there.
            logs.append(folder / "worker.log")
            processes["worker"] = start(["worker", "--config", str(config)], logs[-1], root)
            deadline = time.monotonic() + 120
            while item_count(url, "prospects") < len(prospects):
                if time.monotonic() > deadline or processes["worker"].poll() is not None:
                    raise SystemExit(f"intel worker did not come up:\n{logs[-1].read_text()[-3000:]}")
                time.sleep(0.5)
            logs.append(folder / "serve.log")
            processes["server"] = start(["serve", "--config", str(config)], logs[-1], root)
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or processes["server"].poll() is not None:
                raise SystemExit(f"the API did not come up:\n{logs[-1].read_text()[-3000:]}")
            time.sleep(0.3)
        users = sorted({owner for p in prospects for owner in p["owner"]})
        paths = ([f"/feeds/prospects/{p['id']}.{fmt}" for p in prospects[:60] for fmt in ("atom", "rss", "json")]
                 + [f"/feeds/users/{u}.{fmt}" for u in users for fmt in ("atom", "rss", "json")])
        random.Random(3).shuffle(paths)
        items_before = item_count(url)
        crowd = Readers(base, paths, readers, seconds)
        stop = threading.Event()
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in processes}
        # The readers fork first: a sampler thread must not be running when they do.
        crowd_thread = threading.Thread(target=crowd.run)
        crowd_thread.start()
        samplers = [threading.Thread(target=rss_samples, args=(process.pid, stop, samples[name]), daemon=True)
                    for name, process in processes.items()]
        time.sleep(1)
        for sampler in samplers:
            sampler.start()
        crowd_thread.join()
        stop.set()
        for sampler in samplers:
            sampler.join()
        items_after = item_count(url)
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    log_text = "".join(log.read_text(errors="replace") for log in logs)
    result = {
        "requests": len(crowd.latencies), "errors": len(crowd.errors),
        "not_modified_share": crowd.statuses.get(304, 0) / max(1, len(crowd.latencies)),
        "p50_ms": percentile(crowd.latencies, 50), "p99_ms": percentile(crowd.latencies, 99),
        "locked": log_text.count("database is locked"), "tracebacks": log_text.count("Traceback"),
        "items_ingested": items_after - items_before,
    }
    memory = {name: _memory(points) for name, points in samples.items()}
    result["rss_growth_mb"] = max(m["growth"] for m in memory.values())
    result["rss_flat"] = all(m["growth"] <= max(50.0, 0.2 * m["first"]) for m in memory.values())
    how = ("`intel run` (scheduler and API in one process)" if mode == "run" else
           f"`intel serve` ({serve_workers} workers) and `intel worker` in separate processes")
    print(f"\n{label}: {readers} readers for {seconds:.0f} s while ingesting {FEEDS} rolling feeds; {how}")
    print(f"  requests {result['requests']}, errors {result['errors']}, 304s {result['not_modified_share']:.0%}, "
          f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms")
    print(f"  items ingested during the soak {result['items_ingested']}; 'database is locked' in the logs "
          f"{result['locked']}; tracebacks {result['tracebacks']}")
    for name, m in memory.items():
        print(f"  {name} RSS {m['first']:.0f} MB -> {m['last']:.0f} MB (max {m['max']:.0f} MB, "
              f"growth {m['growth']:+.0f} MB); samples every 2 s: {m['trace']}")
    if crowd.errors:
        print("  e.g. " + "; ".join(crowd.errors[:3]))
    return result


def _memory(samples: list[tuple[float, float]]) -> dict:
    steady = [rss for at, rss in samples if at >= WARM_UP]
    third = max(1, len(steady) // 3)
    first, last = median(steady[:third]), median(steady[-third:])
    step = max(1, len(steady) // 10)
    return {"first": first, "last": last, "growth": last - first,
            "max": max((rss for _, rss in samples), default=float("nan")),
            "trace": " ".join(f"{rss:.0f}" for rss in steady[::step])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one minute per database instead of ten")
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--readers", type=int, default=200)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--serve-workers", type=int, default=2, help="server.workers of `intel serve`")
    parser.add_argument("--mode", choices=("split", "run"), default="split",
                        help="split: `intel worker` + `intel serve` (production); run: `intel run`")
    args = parser.parse_args()
    seconds = args.seconds or (60.0 if args.quick else 600.0)
    print(f"soak: {machine()}, load average {os.getloadavg()[0]:.1f}")
    prospects = owners_for(companies(PROSPECTS), reps=REPS)
    farm = FeedFarm(FEEDS, ITEMS_PER_FETCH, [p["name"] for p in prospects], rolling=True)
    figures: dict[str, object] = {"readers": args.readers, "seconds": seconds, "mode": args.mode,
                                  "serve_workers": args.serve_workers}
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
                result = soak(label, url, args.readers, seconds, farm, prospects, mode=args.mode,
                              serve_workers=args.serve_workers)
            finally:
                cleanup()
            ok = (ok and result["errors"] == 0 and result["locked"] == 0 and result["rss_flat"]
                  and result["items_ingested"] > 0)
            for key in ("requests", "errors", "locked", "p50_ms", "p99_ms", "rss_growth_mb", "items_ingested"):
                figures[f"{label}_{key}"] = result[key]
    finally:
        farm.close()
    figures["ok"] = ok
    print(summary_line(**figures))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

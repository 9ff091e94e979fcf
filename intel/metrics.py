"""Prometheus metrics of the pipeline, recorded in-process.

`intel run` serves them on the API's /metrics; `intel worker --metrics-port N`
serves them itself when the worker runs apart from the API.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from prometheus_client import Counter, Histogram

FETCHES = Counter("intel_fetches", "Source runs by outcome (ok, not_modified, failed).", ["kind", "status"])
FETCH_SECONDS = Histogram("intel_fetch_seconds", "Time to fetch and parse one source.", ["kind"],
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60))
ITEMS_INGESTED = Counter("intel_items_ingested", "Items stored by source runs (new or changed).", ["change"])
ITEMS_TAGGED = Counter("intel_items_tagged", "Items run through the prospect tagger.")
TAGGING_SECONDS = Counter("intel_tagging_seconds", "Time spent tagging; items_tagged / this = throughput.")
# A worker's writes take turns (SQLite lets one writer in at a time; on PostgreSQL runs storing new stories
# take turns too): when the held time nears the wall-clock time, writing is what limits ingest.
WRITES = Counter("intel_write_transactions", "Write transactions of the worker (runs, failures, claims).")
WRITE_SECONDS = Counter("intel_write_seconds", "Time inside the worker's write transactions, from their turn to commit.")
WRITE_CPU_SECONDS = Counter("intel_write_cpu_seconds", "CPU time of the threads inside write transactions; the rest "
                            "of intel_write_seconds is waiting (disk syncs, the GIL, other processes' locks).")
ALERTS_SENT = Counter("intel_alert_deliveries", "Webhook delivery attempts by outcome (sent, retry, failed).",
                      ["target", "outcome"])


@contextmanager
def tagging(count: int) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        TAGGING_SECONDS.inc(time.perf_counter() - started)
        ITEMS_TAGGED.inc(count)


@contextmanager
def write_transaction() -> Iterator[None]:
    started, cpu = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        WRITE_CPU_SECONDS.inc(time.thread_time() - cpu)
        WRITE_SECONDS.inc(time.perf_counter() - started)
        WRITES.inc()


def record_run(kind: str, status: str, new: int = 0, updated: int = 0) -> None:
    FETCHES.labels(kind, status).inc()
    if new:
        ITEMS_INGESTED.labels("new").inc(new)
    if updated:
        ITEMS_INGESTED.labels("updated").inc(updated)

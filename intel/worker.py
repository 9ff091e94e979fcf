"""The scheduler tick: claim due sources from the database and run them in a thread pool.

APScheduler only fires the tick; what is due, leased and failing lives in the
database, so any number of workers can tick against one PostgreSQL.

A worker claims a source only when a thread is free to run it at once, and
renews the leases of its runs in flight every third of a lease, so a slow run
keeps its source while a killed worker's leases run out for others to take.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from intel.clock import utcnow
from intel.pipeline import Pipeline, RunOutcome
from intel.retention import prune_expired
from models import repository
from models.leases import renew_leases
from models.values import SourceState

log = logging.getLogger(__name__)


class _BusyTickFilter(logging.Filter):
    """A tick that is still draining work when the next one is due is normal, not a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


class Worker:
    def __init__(self, pipeline: Pipeline, name: str | None = None) -> None:
        self.pipeline = pipeline
        self.policy = pipeline.config.scheduler
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._pool = ThreadPoolExecutor(max_workers=self.policy.workers, thread_name_prefix="source")
        self._scheduler: BackgroundScheduler | None = None
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()

    def tick(self, only: str | None = None) -> list[RunOutcome]:
        """Run every due source (or just `only`, due or not) once; return when none is left."""
        outcomes: list[RunOutcome] = []
        running: set[Future[RunOutcome]] = set()
        asked = False
        while True:
            free = self.policy.workers - len(running)
            if free > 0 and (only is None or not asked):  # the one named source is claimed once
                claimed = self._claim(free, only)
                asked = True
                running.update(self._pool.submit(self._run, state) for state in claimed)
            if not running:
                return outcomes
            done, running = wait(running, return_when=FIRST_COMPLETED)
            outcomes.extend(future.result() for future in done)

    def _claim(self, limit: int, only: str | None) -> list[SourceState]:
        with self.pipeline.write_transaction() as session:
            claimed = repository.claim_due_sources(
                session, now=utcnow(), owner=self.name, lease=timedelta(seconds=self.policy.lease),
                limit=limit, only=only)
        with self._in_flight_lock:
            self._in_flight.update(state.id for state in claimed)
        return claimed

    def _run(self, state: SourceState) -> RunOutcome:
        try:
            return self.pipeline.run_source(state)
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(state.id)

    def renew_leases(self) -> int:
        """Push the leases of every run in flight one lease length ahead."""
        with self._in_flight_lock:
            ids = list(self._in_flight)
        if not ids:
            return 0
        with self.pipeline.write_transaction() as session:
            return renew_leases(session, self.name, ids, utcnow() + timedelta(seconds=self.policy.lease))

    def _safe(self, job, what: str) -> None:
        try:
            job()
        except Exception:  # a database outage must not kill the scheduler; the next round retries
            log.exception("%s failed", what)

    def _safe_tick(self) -> None:
        self._safe(self.tick, "scheduler tick")

    def start(self) -> None:
        """Tick now and then every `scheduler.tick` seconds, in a background thread; prune per `retention`."""
        # Build the prospect matcher before claiming anything: leases should not tick away meanwhile.
        self._safe(self.pipeline.tagger, "building the prospect matcher")
        logging.getLogger("apscheduler.scheduler").addFilter(_BusyTickFilter())
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_job(self._safe_tick, IntervalTrigger(seconds=self.policy.tick),
                                next_run_time=utcnow(), max_instances=1, coalesce=True, id="tick")
        self._scheduler.add_job(lambda: self._safe(self.renew_leases, "renewing leases"),
                                IntervalTrigger(seconds=max(0.2, self.policy.lease / 3)),
                                max_instances=1, coalesce=True, id="leases")
        retention = self.pipeline.config.retention
        if retention.max_age is not None:
            self._scheduler.add_job(lambda: self._safe(self._prune, "retention pruning"),
                                    IntervalTrigger(seconds=retention.every),
                                    next_run_time=utcnow(), max_instances=1, coalesce=True, id="retention")
        self._scheduler.start()
        log.info("worker %s ticking every %ss", self.name, self.policy.tick)

    def _prune(self) -> None:
        prune_expired(self.pipeline.sessions, self.pipeline.config.retention)

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
        self._pool.shutdown(wait=True)

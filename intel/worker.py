"""The scheduler tick: claim due sources from the database and run them in a thread pool.

APScheduler only fires the tick; what is due, leased and failing lives in the
database, so any number of workers can tick against one PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from intel.clock import utcnow
from intel.pipeline import Pipeline, RunOutcome
from models import repository

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, pipeline: Pipeline, name: str | None = None) -> None:
        self.pipeline = pipeline
        self.policy = pipeline.config.scheduler
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._pool = ThreadPoolExecutor(max_workers=self.policy.workers, thread_name_prefix="source")
        self._scheduler: BackgroundScheduler | None = None

    def tick(self, only: str | None = None) -> list[RunOutcome]:
        """Run every due source (or just `only`, due or not) once."""
        outcomes: list[RunOutcome] = []
        while True:
            with self.pipeline.sessions.begin() as session:
                claimed = repository.claim_due_sources(
                    session, now=utcnow(), owner=self.name, lease=timedelta(seconds=self.policy.lease),
                    limit=self.policy.workers * 4, only=only)
            if not claimed:
                return outcomes
            outcomes.extend(self._pool.map(self.pipeline.run_source, claimed))
            if only is not None:
                return outcomes

    def _safe_tick(self) -> None:
        try:
            self.tick()
        except Exception:  # a database outage must not kill the scheduler; the next tick retries
            log.exception("scheduler tick failed")

    def start(self) -> None:
        """Tick now and then every `scheduler.tick` seconds, in a background thread."""
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_job(self._safe_tick, IntervalTrigger(seconds=self.policy.tick),
                                next_run_time=utcnow(), max_instances=1, coalesce=True, id="tick")
        self._scheduler.start()
        log.info("worker %s ticking every %ss", self.name, self.policy.tick)

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
        self._pool.shutdown(wait=True)

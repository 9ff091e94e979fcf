"""The long-running worker: scheduler, alert deliveries, and live config reload.

`intel run` and `intel worker` start one `WorkerService`. When the config file
or a prospect file changes (checked by polling their modification times), or
on SIGHUP, the config is loaded again: an invalid one is reported with the
usual FILE:LINE:COL lines and the running config stays; a valid one is synced
into the database (sources, prospects) and the parts that live in memory
(scheduler and HTTP settings, the tagger, alert rules) are swapped in.
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import threading
from pathlib import Path
from typing import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from intel.alerts import AlertDispatcher
from intel.config import ConfigError, load_config
from intel.logging_setup import register_secrets
from intel.settings import Config
from intel.clock import utcnow
from intel.sync import sync_config
from models import ops

log = logging.getLogger(__name__)

# Config keys whose change takes effect through the database or a swap in place; any other
# change (scheduler, http, tagging, …) builds a new pipeline and worker.
_LIVE_KEYS = {"prospects", "prospect_files", "sources", "alerts", "server", "feeds", "auth", "channels"}
_FileStamp = tuple[int, int]
SETTLE_SECONDS = 0.3
# glibc's malloc gives each thread that allocates an arena of its own (up to 8 per core) and reuses
# what is freed in an arena for that arena only: the worker's source threads each fragment one, and
# the free memory they hold grows run after run (bench/ingest.py --memory-only: a worker's peak RSS
# grew ~8 MiB per 10,000 items with 4 source threads). MALLOC_ARENA_MAX in the environment still wins.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter numbers (glibc malloc.h)
_M_MMAP_THRESHOLD = -3
# Blocks this big or bigger get pages of their own, given back when freed. glibc raises the limit to
# the size of each such block freed (up to 32 MiB), after which the story index's arrays (models/
# story_index.py: ~20 MiB, made anew as the index changes) came from the heap and left it
# fragmented. Fixed here, as setting it does.
MMAP_THRESHOLD = 1 << 20


def config_secrets(config: Config) -> list[str]:
    """What must never be logged: webhook secrets, and webhook URLs (for Slack and Teams the URL is the key)."""
    values = []
    for webhook in config.alerts.webhooks:
        values.append(webhook.url)
        if webhook.secret is not None:
            values.append(webhook.secret.get_secret_value())
    return values


class ConfigFiles:
    """The config file and every prospect file it names, with their modification stamps."""

    def __init__(self, path: Path, config: Config) -> None:
        self.path = path
        self.patterns = list(config.prospect_files)
        self.stamps = self._stamps()

    def _files(self) -> list[Path]:
        files = [self.path]
        for pattern in self.patterns:
            # New files matching a glob count as a change, not only edits of known ones.
            files.extend(Path(p) for p in sorted(glob.glob(str(self.path.parent / pattern))))
        return files

    def _stamps(self) -> dict[str, _FileStamp | None]:
        stamps: dict[str, _FileStamp | None] = {}
        for file in self._files():
            try:
                stat = file.stat()
                stamps[str(file)] = (stat.st_mtime_ns, stat.st_size)
            except OSError:
                stamps[str(file)] = None
        return stamps

    def changed(self) -> bool:
        return self._stamps() != self.stamps

    def refresh(self, config: Config | None = None) -> None:
        if config is not None:
            self.patterns = list(config.prospect_files)
        self.stamps = self._stamps()


class WorkerService:
    def __init__(self, config_path: Path, config: Config, sessions: sessionmaker[Session], *,
                 on_reload: Callable[[Config], None] | None = None, poll_seconds: float = 2.0,
                 worker_factory: Callable[[Config, sessionmaker[Session]], object] | None = None) -> None:
        self.path = Path(config_path)
        self.config = config
        self.sessions = sessions
        self.on_reload = on_reload
        self.poll_seconds = poll_seconds
        self._worker_factory = worker_factory or _new_worker
        self._worker = None
        self._alerts: AlertDispatcher | None = None
        self._files = ConfigFiles(self.path, config)
        self._reload_requested = threading.Event()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._lock = threading.Lock()
        self.reloads = 0  # successful reloads, for status and tests
        self.last_problems: list[str] = []  # the newest rejected config's problems, plain words
        register_secrets(config_secrets(config))

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._record_check([])
        limit_malloc_arenas()  # before the worker's threads exist
        self._worker = self._worker_factory(self.config, self.sessions)
        self._worker.start()
        return_free_memory()  # what parsing the config and building the matcher left free
        self._sync_alerts(self.config)
        self._watcher = threading.Thread(target=self._watch, name="config-watch", daemon=True)
        self._watcher.start()
        log.info("watching %s and its prospect files for changes (SIGHUP reloads at once)", self.path)

    def stop(self) -> None:
        self._stopping.set()
        self._reload_requested.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        with self._lock:
            if self._alerts is not None:
                self._alerts.stop()
                self._alerts = None
            if self._worker is not None:
                _stop_worker(self._worker)
                self._worker = None

    def request_reload(self) -> None:
        """Safe from a signal handler: the watcher thread does the work."""
        self._reload_requested.set()

    # --- reloading ---------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stopping.is_set():
            asked = self._reload_requested.wait(self.poll_seconds)
            if self._stopping.is_set():
                return
            self._reload_requested.clear()
            try:
                if asked:
                    self.reload("SIGHUP")
                elif self._files.changed() and self._settled():
                    self.reload("a config file changed")
            except Exception:  # a reload must never take the running worker down
                log.exception("config reload failed; still running the previous config")

    def _settled(self) -> bool:
        """True once the files stop changing: an editor may still be writing (a half-written file
        could even be a valid, empty config)."""
        before = self._files._stamps()
        self._stopping.wait(SETTLE_SECONDS)
        return self._files._stamps() == before

    def reload(self, reason: str = "asked") -> bool:
        """Load the config again; True when the new one is running."""
        with self._lock:
            self._files.refresh()  # judge these file versions once, even if they are invalid
            try:
                new = load_config(self.path)
            except ConfigError as exc:
                problems = [str(p) for p in exc.problems]
                # logged before it is published: whoever sees last_problems can rely on the log line
                log.error("config reload (%s): %d problem(s); still running the previous config:\n%s",
                          reason, len(problems), "\n".join(problems))
                self.last_problems = problems
                self._record_check(problems)
                return False
            if new.database != self.config.database:
                log.error("config reload (%s): the database changed (needs a restart); "
                          "still running the previous config", reason)
                self.last_problems = [f"{self.path}: database: changing the database needs a restart"]
                self._record_check(self.last_problems)
                return False
            register_secrets(config_secrets(new))
            sync_config(self.sessions, new)
            self._files.refresh(new)
            if _pipeline_settings(new) != _pipeline_settings(self.config) and self._worker is not None:
                log.info("scheduler, HTTP or tagging settings changed: starting a new worker")
                replacement = self._worker_factory(new, self.sessions)
                replacement.start()
                old, self._worker = self._worker, replacement
                _stop_worker(old)
                return_free_memory()  # the old pipeline's vocabulary and matcher
            self._sync_alerts(new)
            self.config = new
            self.last_problems = []
            self.reloads += 1
            self._record_check([])
        if self.on_reload is not None:
            self.on_reload(new)
        log.info("config reloaded (%s): %d sources, %d prospects, %d alert rule(s)", reason,
                 len(new.sources), len(new.prospects), len(new.alerts.rules))
        return True

    def _record_check(self, problems: list[str]) -> None:
        """What the ops page shows under "config": the last load, fine or with its problems."""
        try:
            with self.sessions.begin() as session:
                ops.record_config_check(session, path=str(self.path), problems=problems, now=utcnow())
        except SQLAlchemyError as exc:  # the log already says it; the page is a convenience
            log.warning("could not record the config check: %s", type(exc).__name__)

    def _sync_alerts(self, config: Config) -> None:
        if not config.alerts.rules:
            if self._alerts is not None:
                self._alerts.stop()
                self._alerts = None
            return
        if self._alerts is None:
            self._alerts = AlertDispatcher(config.alerts, self.sessions)
            self._alerts.start()
        else:
            self._alerts.reconfigure(config.alerts)


def _pipeline_settings(config: Config) -> dict:
    return config.model_dump(exclude=_LIVE_KEYS)


def _new_worker(config: Config, sessions: sessionmaker[Session]):
    from intel.pipeline import Pipeline
    from intel.worker import Worker

    return Worker(Pipeline(config, sessions))


def _stop_worker(worker) -> None:
    worker.stop()
    pipeline = getattr(worker, "pipeline", None)
    if pipeline is not None:
        pipeline.close()


# --- process memory ----------------------------------------------------------------------------

def _glibc():
    """The C library's malloc controls, or None where they do not exist (musl, macOS)."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """At most `arenas` malloc arenas for threads that allocate from now on (see MALLOC_ARENAS), and
    big blocks in pages of their own (see MMAP_THRESHOLD)."""
    libc = _glibc()
    if libc is None:
        return
    if "MALLOC_ARENA_MAX" not in os.environ:
        libc.mallopt(_M_ARENA_MAX, arenas)
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def return_free_memory() -> None:
    """Give the memory malloc holds free back to the system (start-up leaves ~100 MB: the parsed
    config and prospect files are garbage once the matcher is built)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)

"""One source run as a fixed sequence: fetch -> normalize -> tag -> store (one transaction)."""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterator, Sequence

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from connectors import build_connectors
from connectors.base import Connector, ConnectorError, FetchError, FetchResult, GoneError, RawItem, SourceSpec
from connectors.http import DEFAULT_USER_AGENT, HttpLimits, PoliteClient
from intel import after_fetch, metrics
from intel.clock import utcnow
from intel.normalize import reuse_known_keys, with_storage_keys
from intel.schedule import next_check_after_failure, next_check_after_success
from intel.settings import Config, ProspectRecord
from intel.enrich import STORY_SLICE, enrich_run
from intel.tagging import ProspectTagger, TagInput, TagResult
from intel.tagging_engine import StoryText, TaggingEngine, TaggingProcesses
from models import item_keys, repository
from models.stories import StoryPrint, serialize_story_assignment
from models.db import make_engine, make_sessionmaker
from models.locks import write_lock_first
from models.tables import Prospect
from models.values import ItemToStore, RunCounts, RunRecord, SourceState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    source_id: str
    status: str  # ok | not_modified | failed
    counts: RunCounts = RunCounts()
    error: str | None = None


class Pipeline:
    """Everything a worker needs to run sources: storage, connectors and the tagger."""

    def __init__(self, config: Config, sessions: sessionmaker[Session] | None = None,
                 client: PoliteClient | None = None) -> None:
        self.config = config
        self.sessions = sessions or make_sessionmaker(make_engine(config.database))
        self.client = client or PoliteClient(user_agent=_user_agent(config), limits=_limits(config))
        self.connectors: dict[str, Connector] = build_connectors(self.client)
        tagging = config.tagging
        # Tagging in the worker's own process, or in child processes that use other cores.
        self.tagging: TaggingEngine | TaggingProcesses = (
            TaggingProcesses(tagging.processes, tagging.model, tagging.min_score, config.signals)
            if tagging.processes else TaggingEngine(tagging.model, tagging.min_score, config.signals))
        self._prospects_version: datetime | None = None
        self._prospects_given = False  # has the tagging had a prospect list yet
        self._build_lock = threading.Lock()
        # SQLite lets one writer in at a time and makes the others sleep-poll for the lock; queueing
        # them here instead wakes the next one the moment a run commits. PostgreSQL needs no queue.
        self._write_lock = (threading.Lock() if self.sessions.kw["bind"].dialect.name == "sqlite"
                            else contextlib.nullcontext())

    def close(self) -> None:
        self.client.close()
        self.tagging.close()

    @contextlib.contextmanager
    def write_transaction(self) -> Iterator[Session]:
        """A transaction that writes: on SQLite it waits its turn in the in-process queue first.

        Every writer of the worker goes through here (runs, failures, claims and lease renewals):
        one left outside would meet a run's transaction inside SQLite and sleep-poll for the lock.
        """
        with self._write_lock, metrics.write_transaction(), self.sessions.begin() as session:
            write_lock_first(session)  # other processes write this database too
            yield session

    # --- tagging ---------------------------------------------------------------------------

    @property
    def nlp(self):
        """The spaCy pipeline tagging runs on in this process (none when it runs in child processes)."""
        if not isinstance(self.tagging, TaggingEngine):
            raise AttributeError("tagging runs in child processes (tagging.processes): no pipeline here")
        return self.tagging.nlp

    def tagger(self) -> ProspectTagger:
        """The in-process tagger for the current prospect list (updated in place when it changed)."""
        self._follow_prospects()
        if not isinstance(self.tagging, TaggingEngine):
            raise RuntimeError("tagging runs in child processes (tagging.processes): no tagger here")
        return self.tagging.tagger

    def prepare_tagging(self) -> None:
        """Build the matcher (in every tagging process) now: start-up cost, not the first run's."""
        self._follow_prospects()
        if isinstance(self.tagging, TaggingProcesses):
            self.tagging.prepare()

    def _follow_prospects(self) -> None:
        """Hand the tagging the prospect list whenever it changed in the database since last asked."""
        with self._build_lock, self.sessions() as session:
            version = repository.prospects_changed_at(session)
            if self._prospects_given and version == self._prospects_version:
                return
            records = [prospect_record(p) for p in repository.active_prospects(session)]
            first = not self._prospects_given
            changed = self.tagging.set_prospects(records)
            self._prospects_version, self._prospects_given = version, True
        if first:
            log.info("prospect matcher built for %d prospects", len(records))
        elif isinstance(self.tagging, TaggingEngine):  # only the changed records are re-tokenized
            log.info("prospect matcher updated: %d of %d prospects changed", changed, len(records))
        else:
            log.info("prospect list changed: tagging processes update their matchers (%d prospects)", len(records))

    def tag(self, inputs: Sequence[TagInput]) -> list[TagResult]:
        return self.analyse(inputs)[0]

    def analyse(self, inputs: Sequence[TagInput], story_texts: Sequence[StoryText] = ()
                ) -> tuple[list[TagResult], list[StoryPrint]]:
        """Tag items against the current prospects and fingerprint `story_texts` for stories."""
        self._follow_prospects()
        with metrics.tagging(len(inputs)):
            return self.tagging.analyse(inputs, story_texts)

    # --- runs ------------------------------------------------------------------------------

    def run_source(self, state: SourceState) -> RunOutcome:
        """Fetch, tag and store one source; any failure is recorded, never raised."""
        started = utcnow()
        spec = SourceSpec(id=state.id, kind=state.kind, url=state.url, visibility=state.visibility,
                          settings=state.settings, allow_private=bool(state.settings.get("allow_private")),
                          # file: only for sources written in config, never templated or discovered ones
                          allow_file=not ({"template", "discovered_by"} & state.settings.keys()),
                          etag=state.etag, last_modified=state.last_modified, state=state.connector_state)
        try:
            connector = self.connectors[state.kind]
            with metrics.FETCH_SECONDS.labels(state.kind).time():
                result = connector.fetch(spec)
        except KeyError:
            return self._fail(state, started, f"no connector for kind {state.kind!r}")
        except GoneError as exc:
            return self._fail(state, started, str(exc), http_status=exc.http_status, disable=str(exc))
        except FetchError as exc:
            return self._fail(state, started, str(exc), http_status=exc.http_status,
                              retry_after=exc.retry_after)
        except ConnectorError as exc:
            return self._fail(state, started, str(exc))
        except Exception as exc:  # a bug in one connector must not stop the others
            log.exception("source %s: unexpected error", state.id)
            return self._fail(state, started, f"internal error: {type(exc).__name__}: {exc}")
        try:
            return self._store(state, started, result)
        except SQLAlchemyError as exc:
            log.error("source %s: storing failed: %s", state.id, exc)
            return self._fail(state, started, f"storing failed: {type(exc).__name__}")

    def _store(self, state: SourceState, started: datetime, result: FetchResult) -> RunOutcome:
        keyed, fresh = self._keyed(state.id, result.items)
        # CPU work, done before the write transaction (big runs' fingerprints: slice by slice in enrich_run)
        printed = [(key, item) for key, item in keyed if key in fresh] if len(fresh) <= STORY_SLICE else []
        tags, story_prints = self.analyse(
            [TagInput(item.title, item.summary, item.content, item.url) for _, item in keyed],
            [(item.title, item.summary, item.url) for _, item in printed]) if keyed else ([], [])
        prints = {key: fingerprint for (key, _), fingerprint in zip(printed, story_prints)}
        with self.sessions() as session:
            hints = after_fetch.prospect_hints(session, [item for _, item in keyed], state.settings)
        rows = [ItemToStore(dedup_key=key, title=item.title, content_hash=item.content_hash, guid=item.guid,
                            url=item.url, summary=item.summary, content=item.content, author=item.author,
                            visibility=item.visibility, published_at=_not_future(item.published_at),
                            mentions=after_fetch.with_hint(tag.mentions, hint, f"from source {state.id}"),
                            signals=tag.signals)
                for (key, item), tag, hint in zip(keyed, tags, hints)]
        finished = utcnow()
        status = "not_modified" if result.not_modified else "ok"
        run = RunRecord(started_at=started, finished_at=finished, status=status,
                        next_check_at=next_check_after_success(state, finished, self.config.scheduler,
                                                               result.min_interval),
                        http_status=result.http_status, bytes_read=result.bytes_read,
                        etag=result.etag, last_modified=result.last_modified, new_url=result.final_url,
                        error="; ".join(result.warnings) or None, lease_owner=state.lease_owner)
        with self.write_transaction() as session:
            if fresh:  # first, before any row is locked: see serialize_story_assignment
                serialize_story_assignment(session)
            extras = after_fetch.apply_extras(session, self.config, state, result, finished)
            if extras.notes:
                run = replace(run, error="; ".join([*extras.notes, *result.warnings]))
            stored = repository.store_run(session, state.id, run, rows, extras.counts)
            counts = stored.counts
            enrich_run(session, state.id, keyed, tags, stored=stored, prints=prints, now=finished,
                       config=self.config)
        log.info("source %s: %s, %d new, %d updated, %d unchanged", state.id, status,
                 counts.new, counts.updated, counts.seen)
        metrics.record_run(state.kind, status, counts.new, counts.updated)
        return RunOutcome(state.id, status, counts)

    def _keyed(self, source_id: str, items: Sequence[RawItem]) -> tuple[list[tuple[str, RawItem]], set[str]]:
        """Storage keys, and which of them are not stored yet.

        Entries whose GUID rotates keep the key they were first stored under.
        """
        keyed = with_storage_keys(items)
        if not keyed:
            return keyed, set()
        with self.sessions() as session:
            # Only entries whose key is not stored yet can be a stored item under a rotated GUID.
            stored = item_keys.stored_keys(session, source_id, [key for key, _ in keyed])
            unknown = [item for key, item in keyed if key not in stored]
            if not unknown:
                return keyed, set()
            by_link = item_keys.keys_by_link(session, source_id, [item.url for item in unknown if item.url])
            by_title = item_keys.keys_by_title_and_date(
                session, source_id, [(item.title, item.published_at) for item in unknown if not item.url])
        keyed = reuse_known_keys(keyed, by_link, by_title)
        known = stored | set(by_link.values()) | set(by_title.values())
        return keyed, {key for key, _ in keyed if key not in known}

    def _fail(self, state: SourceState, started: datetime, error: str, *, http_status: int | None = None,
              retry_after: float | None = None, disable: str | None = None) -> RunOutcome:
        finished = utcnow()
        log.warning("source %s failed: %s", state.id, error)
        run = RunRecord(started_at=started, finished_at=finished, status="failed", error=error,
                        http_status=http_status, disable_reason=disable, lease_owner=state.lease_owner,
                        next_check_at=next_check_after_failure(state, finished, self.config.scheduler,
                                                               retry_after))
        try:
            with self.write_transaction() as session:
                repository.record_failure(session, state.id, run)
        except SQLAlchemyError as exc:  # the lease expires and another tick retries
            log.error("source %s: could not record the failure: %s", state.id, exc)
        metrics.record_run(state.kind, "failed")
        return RunOutcome(state.id, "failed", error=error)


def prospect_record(row: Prospect) -> ProspectRecord:
    return ProspectRecord(id=row.id, name=row.name, aliases=row.aliases, domains=row.domains,
                          tickers=row.tickers, people=row.people, keywords=row.keywords,
                          exclude=row.exclude, owner=row.owners, stage=row.stage,
                          industry=row.industry, ambiguous=row.ambiguous)


def _not_future(when: datetime | None) -> datetime | None:
    # A feed dated in the future would pin its entries to the top of every feed.
    now = utcnow()
    return min(when, now) if when is not None else None


def _user_agent(config: Config) -> str:
    contact = config.http.contact
    return f"{DEFAULT_USER_AGENT[:-1]}; {contact})" if contact else DEFAULT_USER_AGENT


def _limits(config: Config) -> HttpLimits:
    return HttpLimits(read_timeout=config.http.timeout, deadline=config.http.deadline,
                      max_body_bytes=int(config.http.max_body_mb * 1024 * 1024),
                      per_host=config.http.per_host)

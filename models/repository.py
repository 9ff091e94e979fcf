"""Every query prospect-intel runs. Callers use these named functions, never SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models import bulk
from models.locks import write_lock_first
from models.stories import one_entry_per_story
from models.tables import Item, Mention, Prospect, Signal, Source, SourceRun
from models.values import Cursor, FeedFilters, ItemToStore, RunCounts, RunRecord, SourceState

PROSPECT_FIELDS = ("name", "aliases", "domains", "tickers", "people", "keywords", "exclude",
                   "stage", "industry", "ambiguous")
SOURCE_CONFIG_FIELDS = ("kind", "url", "title", "visibility", "settings", "every_seconds", "cron")
_IN_CHUNK = 500


# --- prospects -----------------------------------------------------------------------------

def sync_prospects(session: Session, records: Iterable[Mapping[str, Any]], *, origin: str,
                   now: datetime) -> int:
    """Upsert `records` (prospect-record dicts with ids); archive this origin's others."""
    existing = {p.id: p for p in session.scalars(select(Prospect))}
    seen: set[str] = set()
    changed = 0
    for record in records:
        values = {name: record.get(name) for name in PROSPECT_FIELDS}
        values["owners"] = list(record.get("owner") or record.get("owners") or [])
        for name in ("aliases", "domains", "tickers", "people", "keywords", "exclude"):
            values[name] = list(values[name] or [])
        seen.add(record["id"])
        row = existing.get(record["id"])
        if row is None:
            session.add(Prospect(id=record["id"], origin=origin, updated_at=now, **values))
            changed += 1
            continue
        if row.archived_at is not None or any(getattr(row, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            row.archived_at, row.origin, row.updated_at = None, origin, now
            changed += 1
    for row in existing.values():
        if row.origin == origin and row.id not in seen and row.archived_at is None:
            row.archived_at, row.updated_at = now, now
            changed += 1
    return changed


def active_prospects(session: Session) -> list[Prospect]:
    return list(session.scalars(select(Prospect).where(Prospect.archived_at.is_(None)).order_by(Prospect.id)))


def get_prospect(session: Session, prospect_id: str) -> Prospect | None:
    prospect = session.get(Prospect, prospect_id)
    return prospect if prospect is not None and prospect.archived_at is None else None


def prospects_page(session: Session, *, q: str | None = None, owner: str | None = None,
                   stage: str | None = None, after: str | None = None, limit: int = 50) -> list[Prospect]:
    query = select(Prospect).where(Prospect.archived_at.is_(None))
    if q:
        query = query.where(Prospect.name.ilike(f"%{_escape_like(q)}%", escape="\\"))
    if stage:
        query = query.where(Prospect.stage == stage)
    if after:
        query = query.where(Prospect.id > after)
    rows = session.scalars(query.order_by(Prospect.id)).all()
    if owner:  # owners is a JSON list; filtering in Python keeps this portable
        rows = [p for p in rows if owner.lower() in (o.lower() for o in p.owners)]
    return list(rows[:limit])


def prospects_changed_at(session: Session) -> datetime | None:
    return session.scalar(select(func.max(Prospect.updated_at)))


# --- sources -------------------------------------------------------------------------------

def sync_sources(session: Session, sources: Iterable[Mapping[str, Any]], *, now: datetime) -> None:
    """Make the sources table match config; a source's fetch state survives config edits."""
    existing = {s.id: s for s in session.scalars(select(Source))}
    seen = set()
    for spec in sources:
        seen.add(spec["id"])
        row = existing.get(spec["id"])
        values = {k: spec.get(k) for k in SOURCE_CONFIG_FIELDS}
        values["settings"] = dict(values["settings"] or {})
        values["settings"]["config_url"] = values["url"]
        if row is None:
            session.add(Source(id=spec["id"], enabled=spec.get("enabled", True), next_check_at=now,
                               error_count=0, **values))
            continue
        # A 301/308 moved row.url on; only a new URL in config itself replaces it.
        if (row.settings or {}).get("config_url", row.url) != values["url"]:
            row.etag = row.last_modified = None  # another document: old validators would lie
            row.next_check_at = now
        else:
            values["url"] = row.url
        schedule_changed = (row.every_seconds, row.cron) != (values["every_seconds"], values["cron"])
        for key, value in values.items():
            setattr(row, key, value)
        if schedule_changed:
            row.next_check_at = now
        wanted = spec.get("enabled", True)
        if wanted and (not row.enabled and row.disabled_reason in _RESUMABLE):
            row.enabled, row.disabled_reason, row.next_check_at = True, None, now
        elif not wanted:
            row.enabled, row.disabled_reason = False, "disabled in config"
    for row in existing.values():
        # Feeds a discover source found are managed by models.derived_sources.
        if row.id not in seen and row.enabled and "discovered_by" not in (row.settings or {}):
            row.enabled = False
            row.disabled_reason = NOT_EXPANDED if "template" in (row.settings or {}) else "removed from config"


NOT_EXPANDED = "its prospect is archived or no longer matches the template's where:"
_RESUMABLE = ("disabled in config", "removed from config", NOT_EXPANDED)


def claim_due_sources(session: Session, *, now: datetime, owner: str, lease: timedelta,
                      limit: int, only: str | None = None) -> list[SourceState]:
    """Lease sources that are due (or the one named), skipping rows other workers hold.

    On PostgreSQL `FOR UPDATE SKIP LOCKED` keeps two workers off the same row;
    the lease keeps them off it after this transaction commits. Straight through the
    driver: a worker claims once per finished run, and building the query and the
    update as SQLAlchemy statements cost more than the database's work.
    """
    write_lock_first(session)  # SQLite: no row locks, so the read and the lease are one step under its lock
    table = Source.__table__
    at = bulk.bound(session, table.c.next_check_at, now)
    if only is not None:
        which, parameters = "id = ?", [only]
    else:
        which = "enabled = ? AND (next_check_at IS NULL OR next_check_at <= ?)"
        parameters = [bulk.bound(session, table.c.enabled, True), at]
    sql = (f"SELECT {', '.join(_STATE_COLUMNS)} FROM sources WHERE {which} "
           "AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_check_at LIMIT ?")
    if session.get_bind().dialect.name != "sqlite":
        sql += " FOR UPDATE SKIP LOCKED"
    rows = bulk.select_rows(session, sql, [*parameters, at, limit],
                            result_types={4: table.c.settings.type, 10: table.c.connector_state.type})
    states = []
    for row in rows:
        bulk.update_row(session, table, row[0], {"lease_owner": owner, "lease_until": now + lease})
        states.append(_state(*row, lease_owner=owner))
    return states


_STATE_COLUMNS = ("id", "kind", "url", "visibility", "settings", "every_seconds", "cron", "etag", "last_modified",
                  "error_count", "connector_state")


def _state(source_id, kind, url, visibility, settings, every_seconds, cron, etag, last_modified, error_count,
           connector_state, lease_owner) -> SourceState:
    """A source row (its `_STATE_COLUMNS`) as the scheduler hands it to a run."""
    return SourceState(id=source_id, kind=kind, url=url, visibility=visibility, settings=dict(settings or {}),
                       every_seconds=every_seconds, cron=cron, etag=etag, last_modified=last_modified,
                       error_count=error_count, connector_state=connector_state, lease_owner=lease_owner)


def database_reachable(session: Session) -> bool:
    try:
        session.execute(select(1))
    except SQLAlchemyError:
        return False
    return True


def source_exists(session: Session, source_id: str) -> bool:
    return session.get(Source, source_id) is not None


def next_due_at(session: Session) -> datetime | None:
    return session.scalar(select(func.min(Source.next_check_at)).where(Source.enabled.is_(True)))


def sources_health(session: Session) -> list[dict[str, Any]]:
    """Each source with its schedule state and its latest run, for ops views."""
    latest = (select(SourceRun.source_id, func.max(SourceRun.id).label("run_id"))
              .group_by(SourceRun.source_id).subquery())
    query = (select(Source, SourceRun).outerjoin(latest, latest.c.source_id == Source.id)
             .outerjoin(SourceRun, SourceRun.id == latest.c.run_id).order_by(Source.id))
    counts = dict(session.execute(select(Item.source_id, func.count()).group_by(Item.source_id)).all())
    health = []
    for source, run in session.execute(query):
        health.append({
            "id": source.id, "kind": source.kind, "url": source.url, "title": source.title,
            "visibility": source.visibility, "enabled": source.enabled,
            "disabled_reason": source.disabled_reason, "error_count": source.error_count,
            "last_error": source.last_error, "last_run_at": source.last_run_at,
            "last_success_at": source.last_success_at, "next_check_at": source.next_check_at,
            "items": counts.get(source.id, 0),
            "last_status": run.status if run else None,
            "last_http_status": run.http_status if run else None,
            "last_items_new": run.items_new if run else None,
            "last_duration_ms": run.duration_ms if run else None,
            "last_items_seen": run.items_seen if run else None,
            "last_bytes": run.bytes_read if run else None,
            # Warnings of an ok run (skipped CRM rows, ...) or the error of a failed one.
            "last_run_note": run.error if run else None,
        })
    return health


def recent_runs(session: Session, source_id: str, limit: int = 20) -> list[SourceRun]:
    return list(session.scalars(select(SourceRun).where(SourceRun.source_id == source_id)
                                .order_by(SourceRun.id.desc()).limit(limit)))


# --- runs ----------------------------------------------------------------------------------

def save_batch(session: Session, source_id: str, run: RunRecord, items: Sequence[ItemToStore],
               extra: RunCounts | None = None) -> RunCounts:
    """Store one source run: its items, their mentions and signals, the run and the source state.

    `extra`: what the run did besides items (CRM accounts), added to the run's recorded counts.

    The caller commits once, so a run lands whole or not at all.
    """
    return store_run(session, source_id, run, items, extra).counts


@dataclass(frozen=True)
class StoredRun:
    counts: RunCounts
    # dedup key -> item id of the run's items in no story yet (the new ones): what story clustering takes.
    unclustered: dict[str, int] = field(default_factory=dict)


def store_run(session: Session, source_id: str, run: RunRecord, items: Sequence[ItemToStore],
              extra: RunCounts | None = None) -> StoredRun:
    """`save_batch`, also saying which stored items still need a story.

    Set-based: one lookup per 500 keys, then multi-row inserts and updates
    (executemany) for items, mentions and signals; no ORM object per row.
    """
    now = run.finished_at
    stored = bulk.stored_items(session, source_id, [item.dedup_key for item in items])
    fresh: dict[str, ItemToStore] = {}
    changed: dict[str, ItemToStore] = {}
    new = updated = seen = 0
    for data in items:
        before = stored.get(data.dedup_key)
        pending = fresh.get(data.dedup_key) or changed.get(data.dedup_key)
        if pending is not None or before is not None:
            if (pending.content_hash if pending is not None else before.content_hash) == data.content_hash:
                seen += 1
                continue
            updated += 1
            (fresh if data.dedup_key in fresh else changed)[data.dedup_key] = data  # the last edit wins
            continue
        fresh[data.dedup_key] = data
        new += 1
    ids = bulk.insert_new_items(session, source_id, list(fresh.values()), now)
    bulk.update_changed_items(session, {stored[key].id: data for key, data in changed.items()}, now)
    sort_at = {key: data.published_at or now for key, data in fresh.items()}
    sort_at.update((key, data.published_at or stored[key].sort_at) for key, data in changed.items())
    children = [(stored[key].id if key in stored else ids[key], data, sort_at[key])
                for key, data in (*fresh.items(), *changed.items())]
    bulk.insert_mentions_and_signals(session, children)
    extra = extra or RunCounts()
    counts = RunCounts(new + extra.new, updated + extra.updated, seen + extra.seen)
    _finish_source(session, source_id, run, counts)
    unclustered = dict(ids)
    unclustered.update((key, row.id) for key, row in stored.items() if row.story_id is None)
    return StoredRun(counts, unclustered)


def record_failure(session: Session, source_id: str, run: RunRecord) -> None:
    _finish_source(session, source_id, run, RunCounts())


def _finish_source(session: Session, source_id: str, run: RunRecord, counts: RunCounts) -> None:
    """The run's history row and the source's schedule and fetch state: two statements straight to the
    driver, no ORM object (a run that stores 50 items should not pay for loading and flushing its
    source, nor for building two Core statements: together ~0.9 ms a run)."""
    bulk.insert_values(session, SourceRun.__table__, _RUN_COLUMNS, [(
        source_id, run.started_at, run.finished_at, run.status, run.http_status, counts.new,
        counts.seen + counts.updated, run.bytes_read,
        int((run.finished_at - run.started_at).total_seconds() * 1000), run.error)])
    values: dict[str, Any] = {"last_run_at": run.finished_at, "next_check_at": run.next_check_at}
    expressions: list[tuple[str, tuple]] = []
    if run.lease_owner is None:
        values["lease_owner"] = values["lease_until"] = None
    else:  # a run that outlived its lease must not free the lease of the worker that took over
        # Both CASEs read the row as it was before this UPDATE (SQL assigns from the old row).
        ours = "lease_owner IS NULL OR lease_owner = ?"
        expressions += [(f"lease_owner = CASE WHEN {ours} THEN NULL ELSE lease_owner END", (run.lease_owner,)),
                        (f"lease_until = CASE WHEN {ours} THEN NULL ELSE lease_until END", (run.lease_owner,))]
    if run.status == "failed":
        expressions.append(("error_count = error_count + 1", ()))
        values["last_error"] = run.error
    else:
        values.update(error_count=0, last_error=None, last_success_at=run.finished_at, etag=run.etag,
                      last_modified=run.last_modified)
    if run.new_url:
        values["url"] = run.new_url
    if run.disable_reason:
        values.update(enabled=False, disabled_reason=run.disable_reason)
    bulk.update_row(session, Source.__table__, source_id, values, expressions)


_RUN_COLUMNS = ("source_id", "started_at", "finished_at", "status", "http_status", "items_new", "items_seen",
                "bytes_read", "duration_ms", "error")


def release_lease(session: Session, source_id: str) -> None:
    session.execute(update(Source).where(Source.id == source_id).values(lease_owner=None, lease_until=None))


# --- feeds and items -----------------------------------------------------------------------

def prospect_feed(session: Session, prospect_ids: Sequence[str], filters: FeedFilters, *,
                  limit: int, cursor: Cursor | None = None) -> list[Item]:
    """Items about any of `prospect_ids`, newest first, one row per item."""
    if not prospect_ids:
        return []
    matching = select(Mention.item_id).where(Mention.prospect_id.in_(prospect_ids))
    if filters.min_score is not None:
        matching = matching.where(Mention.score >= filters.min_score)
    query = select(Item).where(Item.id.in_(matching))
    return _page(session, _filtered(query, filters), limit, cursor)


def items_feed(session: Session, filters: FeedFilters, *, limit: int, cursor: Cursor | None = None) -> list[Item]:
    """Every visible item that mentions at least one prospect, newest first."""
    matching = select(Mention.item_id)
    if filters.min_score is not None:
        matching = matching.where(Mention.score >= filters.min_score)
    return _page(session, _filtered(select(Item).where(Item.id.in_(matching)), filters), limit, cursor)


def _filtered(query, filters: FeedFilters):
    query = query.where(Item.visibility.in_(filters.visibilities))
    query = one_entry_per_story(query)  # a story carried by eight sources is one entry
    if filters.signal:
        query = query.where(Item.id.in_(select(Signal.item_id).where(Signal.type.in_(filters.signal))))
    if filters.stage:
        staged = select(Mention.item_id).join(Prospect, Prospect.id == Mention.prospect_id).where(
            Prospect.stage.in_(filters.stage))
        query = query.where(Item.id.in_(staged))
    if filters.source:
        query = query.where(Item.source_id.in_(filters.source))
    if filters.since is not None:
        query = query.where(Item.sort_at >= filters.since)
    if filters.q:
        pattern = f"%{_escape_like(filters.q)}%"
        query = query.where(or_(Item.title.ilike(pattern, escape="\\"), Item.summary.ilike(pattern, escape="\\")))
    return query


def _page(session: Session, query, limit: int, cursor: Cursor | None) -> list[Item]:
    if cursor is not None:
        query = query.where(or_(Item.sort_at < cursor.sort_at,
                                (Item.sort_at == cursor.sort_at) & (Item.id < cursor.item_id)))
    return list(session.scalars(query.order_by(Item.sort_at.desc(), Item.id.desc()).limit(limit)))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def count_items(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Item)) or 0

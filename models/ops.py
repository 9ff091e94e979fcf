"""Queries for operations views: `intel status`, the ops page and /metrics."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from models.tables import ConfigCheck, Item, Prospect, Source, SourceRun

UNOWNED = "(no owner)"
NO_STAGE = "(no stage)"


def prospect_counts(session: Session) -> dict[tuple[str, str], int]:
    """(owner, stage) -> number of active prospects; a prospect with two owners counts for each."""
    counts: Counter[tuple[str, str]] = Counter()
    for owners, stage in session.execute(select(Prospect.owners, Prospect.stage)
                                         .where(Prospect.archived_at.is_(None))):
        for owner in (owners or [UNOWNED]):
            counts[(str(owner).lower(), stage or NO_STAGE)] += 1
    return dict(counts)


def recent_runs(session: Session, *, limit: int = 20) -> list[dict[str, Any]]:
    """The newest source runs across all sources."""
    rows = session.scalars(select(SourceRun).order_by(SourceRun.id.desc()).limit(limit))
    return [{"source_id": r.source_id, "started_at": r.started_at, "finished_at": r.finished_at,
             "status": r.status, "http_status": r.http_status, "items_new": r.items_new,
             "items_seen": r.items_seen, "duration_ms": r.duration_ms, "error": r.error} for r in rows]


def items_per_day(session: Session, *, now: datetime, days: int = 7) -> dict[str, float]:
    """source id -> items first seen per day over the last `days` days."""
    since = now - timedelta(days=days)
    rows = session.execute(select(Item.source_id, func.count()).where(Item.first_seen_at >= since)
                           .group_by(Item.source_id)).all()
    return {source_id: count / days for source_id, count in rows}


def due_source_count(session: Session, *, now: datetime) -> int:
    """Sources waiting for a worker: enabled, due, and not leased by anyone."""
    return session.scalar(select(func.count()).select_from(Source).where(
        Source.enabled.is_(True),
        or_(Source.next_check_at.is_(None), Source.next_check_at <= now),
        or_(Source.lease_until.is_(None), Source.lease_until < now))) or 0


def source_state_counts(session: Session) -> dict[str, int]:
    """How many sources are healthy, failing (errors since the last success) or disabled."""
    disabled = session.scalar(select(func.count()).select_from(Source).where(Source.enabled.is_(False))) or 0
    failing = session.scalar(select(func.count()).select_from(Source).where(
        and_(Source.enabled.is_(True), Source.error_count > 0))) or 0
    total = session.scalar(select(func.count()).select_from(Source)) or 0
    return {"healthy": total - disabled - failing, "failing": failing, "disabled": disabled}


CONFIG_CHECKS_KEPT = 20


def record_config_check(session: Session, *, path: str, problems: list[str], now: datetime) -> None:
    """Remember how loading the config went; only the latest few checks are kept."""
    session.add(ConfigCheck(checked_at=now, path=path, ok=not problems, problems=list(problems)))
    session.flush()
    keep = select(ConfigCheck.id).order_by(ConfigCheck.id.desc()).limit(CONFIG_CHECKS_KEPT).scalar_subquery()
    session.execute(delete(ConfigCheck).where(ConfigCheck.id.not_in(keep)))


def latest_config_check(session: Session) -> dict[str, Any] | None:
    row = session.scalar(select(ConfigCheck).order_by(ConfigCheck.id.desc()).limit(1))
    if row is None:
        return None
    return {"checked_at": row.checked_at, "path": row.path, "ok": row.ok, "problems": list(row.problems)}

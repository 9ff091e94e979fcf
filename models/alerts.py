"""Queries for alerts: signals not yet looked at, and the webhook delivery queue.

A signal is checked once (its `alert_checked_at` is set in the same
transaction that queues its deliveries), and a delivery is unique per
(target, item), so an item reaches a webhook at most once however many
rules, signals or re-fetches point at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models.locks import write_lock_first
from models.tables import AlertDelivery, Item, Mention, Prospect, Signal


@dataclass(frozen=True)
class ProspectFacts:
    id: str
    name: str
    stage: str | None
    owners: tuple[str, ...]
    score: float | None = None  # how sure the item is about this prospect


@dataclass(frozen=True)
class SignalCandidate:
    """A new signal with what alert rules look at: its item and the prospects it concerns."""

    signal_id: int
    item_id: int
    type: str
    score: float
    visibility: str
    first_seen_at: datetime
    # The signal's own prospect when the classifier named one, else every prospect the item mentions.
    prospects: tuple[ProspectFacts, ...]


@dataclass(frozen=True)
class DeliveryToQueue:
    target: str
    item_id: int
    prospect_ids: tuple[str, ...]
    rules: tuple[str, ...]
    signal_types: tuple[str, ...]


@dataclass(frozen=True)
class SignalFacts:
    type: str
    score: float
    evidence: tuple[str, ...]
    role: str | None


@dataclass(frozen=True)
class DeliveryJob:
    """A claimed delivery with everything its message says."""

    id: int
    target: str
    attempts: int
    rules: tuple[str, ...]
    item_id: int
    title: str
    url: str | None
    summary: str
    source_id: str
    source_title: str | None
    published_at: datetime | None
    first_seen_at: datetime
    prospects: tuple[ProspectFacts, ...]
    signals: tuple[SignalFacts, ...]


def claim_unchecked_signals(session: Session, *, limit: int) -> list[SignalCandidate]:
    """Signals the rules have not seen yet, locked so two workers never judge the same one."""
    write_lock_first(session)
    query = (select(Signal).where(Signal.alert_checked_at.is_(None)).order_by(Signal.id).limit(limit)
             .with_for_update(skip_locked=True, of=Signal))
    signals = list(session.scalars(query))
    if not signals:
        return []
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_({s.item_id for s in signals})))}
    mentions = session.execute(
        select(Mention.item_id, Mention.score, Prospect)
        .join(Prospect, Prospect.id == Mention.prospect_id)
        .where(Mention.item_id.in_(items), Prospect.archived_at.is_(None))).all()
    by_item: dict[int, list[ProspectFacts]] = {}
    for item_id, score, prospect in mentions:
        by_item.setdefault(item_id, []).append(_facts(prospect, score))
    named = {p.id: p for p in session.scalars(
        select(Prospect).where(Prospect.id.in_({s.prospect_id for s in signals if s.prospect_id}),
                               Prospect.archived_at.is_(None)))}
    candidates = []
    for signal in signals:
        item = items[signal.item_id]
        if signal.prospect_id:
            mentioned = {p.id: p for p in by_item.get(item.id, [])}
            prospect = named.get(signal.prospect_id)
            prospects = ((mentioned.get(signal.prospect_id) or _facts(prospect, None)),) if prospect else ()
        else:
            prospects = tuple(sorted(by_item.get(item.id, []), key=lambda p: -(p.score or 0)))
        candidates.append(SignalCandidate(signal_id=signal.id, item_id=item.id, type=signal.type,
                                          score=signal.score, visibility=item.visibility,
                                          first_seen_at=item.first_seen_at, prospects=prospects))
    return candidates


def _facts(prospect: Prospect, score: float | None) -> ProspectFacts:
    return ProspectFacts(id=prospect.id, name=prospect.name, stage=prospect.stage,
                         owners=tuple(prospect.owners or ()), score=score)


def mark_signals_checked(session: Session, signal_ids: Sequence[int], now: datetime) -> None:
    for signal in session.scalars(select(Signal).where(Signal.id.in_(signal_ids))):
        signal.alert_checked_at = now


def queue_deliveries(session: Session, deliveries: Sequence[DeliveryToQueue], now: datetime) -> int:
    """Insert deliveries, skipping any (target, item) already queued or sent; returns how many are new."""
    if not deliveries:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    added = 0
    for d in deliveries:
        statement = insert(AlertDelivery).values(
            target=d.target, item_id=d.item_id, prospect_ids=list(d.prospect_ids), rules=list(d.rules),
            signal_types=list(d.signal_types), status="pending", attempts=0, next_attempt_at=now,
            created_at=now).on_conflict_do_nothing(index_elements=["target", "item_id"]).returning(AlertDelivery.id)
        added += len(session.execute(statement).all())
    return added


def claim_due_deliveries(session: Session, *, now: datetime, lease: timedelta, limit: int,
                         due_by: datetime | None = None) -> list[DeliveryJob]:
    """Pending deliveries due by `due_by` (default `now`); their due time moves past the lease while we send."""
    write_lock_first(session)
    query = (select(AlertDelivery)
             .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= (due_by or now))
             .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id).limit(limit)
             .with_for_update(skip_locked=True))
    rows = list(session.scalars(query))
    if not rows:
        return []
    for row in rows:
        row.next_attempt_at = now + lease
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_({r.item_id for r in rows})))}
    prospect_ids = {pid for r in rows for pid in r.prospect_ids}
    prospects = {p.id: p for p in session.scalars(select(Prospect).where(Prospect.id.in_(prospect_ids)))}
    scores = {(m.item_id, m.prospect_id): m.score for m in session.scalars(
        select(Mention).where(Mention.item_id.in_(items)))}
    jobs = []
    for row in rows:
        item = items[row.item_id]
        facts = tuple(_facts(prospects[pid], scores.get((item.id, pid)))
                      for pid in row.prospect_ids if pid in prospects)
        wanted = set(row.signal_types)
        signals = tuple(SignalFacts(s.type, s.score, tuple(s.evidence or ()), s.role)
                        for s in sorted(item.signals, key=lambda s: -s.score) if s.type in wanted)
        jobs.append(DeliveryJob(id=row.id, target=row.target, attempts=row.attempts, rules=tuple(row.rules),
                                item_id=item.id, title=item.title, url=item.url, summary=item.summary,
                                source_id=item.source_id, source_title=item.source.title if item.source else None,
                                published_at=item.published_at, first_seen_at=item.first_seen_at,
                                prospects=facts, signals=signals))
    return jobs


def record_delivery_sent(session: Session, delivery_id: int, *, now: datetime, http_status: int) -> None:
    row = session.get(AlertDelivery, delivery_id)
    if row is not None:
        row.status, row.sent_at, row.http_status = "sent", now, http_status
        row.attempts += 1
        row.last_error = None


def record_delivery_failure(session: Session, delivery_id: int, *, error: str, http_status: int | None,
                            retry_at: datetime | None) -> None:
    """A failed attempt: due again at `retry_at`, or given up for good when it is None."""
    row = session.get(AlertDelivery, delivery_id)
    if row is None:
        return
    row.attempts += 1
    row.last_error, row.http_status = error, http_status
    if retry_at is None:
        row.status = "failed"
    else:
        row.next_attempt_at = retry_at


def delivery_counts(session: Session) -> dict[tuple[str, str], int]:
    """(target, status) -> count, for ops views and metrics."""
    rows = session.execute(select(AlertDelivery.target, AlertDelivery.status, func.count())
                           .group_by(AlertDelivery.target, AlertDelivery.status)).all()
    return {(target, status): count for target, status, count in rows}


def recent_deliveries(session: Session, *, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.scalars(select(AlertDelivery).order_by(AlertDelivery.id.desc()).limit(limit))
    return [{"id": r.id, "target": r.target, "item_id": r.item_id, "prospect_ids": list(r.prospect_ids),
             "rules": list(r.rules), "signal_types": list(r.signal_types), "status": r.status,
             "attempts": r.attempts, "created_at": r.created_at, "sent_at": r.sent_at,
             "http_status": r.http_status, "last_error": r.last_error} for r in rows]

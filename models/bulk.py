"""Bulk loading and bulk scheduling helpers for benchmarks and large imports.

Rows go in through Core `insert()` with many parameter sets per statement
(executemany), which both SQLite and psycopg batch well; the ORM's unit of work
would cost ten times as much at a million rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Iterator, Sequence

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from models.tables import Item, Mention, Prospect, Signal, Source

CHUNK = 5000


def _chunks(rows: Iterable[dict], size: int = CHUNK) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def insert_rows(session: Session, table, rows: Iterable[dict]) -> int:
    """Insert plain dicts into a table in chunks; returns the row count."""
    total = 0
    for chunk in _chunks(rows):
        session.execute(insert(table), chunk)
        total += len(chunk)
    return total


def insert_prospects(session: Session, rows: Iterable[dict]) -> int:
    return insert_rows(session, Prospect.__table__, rows)


def insert_sources(session: Session, rows: Iterable[dict]) -> int:
    return insert_rows(session, Source.__table__, rows)


def insert_items(session: Session, rows: Iterable[dict]) -> int:
    """Items with explicit ids (so mentions can point at them without a round trip)."""
    return insert_rows(session, Item.__table__, rows)


def insert_mentions(session: Session, rows: Iterable[dict]) -> int:
    return insert_rows(session, Mention.__table__, rows)


def insert_signals(session: Session, rows: Iterable[dict]) -> int:
    return insert_rows(session, Signal.__table__, rows)


def after_bulk_load(session: Session) -> None:
    """Make the database ready to serve what was just loaded: id sequences moved past the explicit
    ids, planner statistics refreshed (PostgreSQL's autovacuum would take minutes to notice)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        for table in (Item.__table__, Signal.__table__):
            session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                 f"(SELECT coalesce(max(id), 1) FROM {table.name}))"))
        # Only these tables: a bare ANALYZE would visit (and wait on) every schema in the database.
        for model in (Prospect, Source, Item, Mention, Signal):
            session.execute(text(f"ANALYZE {model.__tablename__}"))
    elif dialect == "sqlite":
        session.execute(text("ANALYZE"))


def make_sources_due(session: Session, now: datetime, source_ids: Sequence[str] | None = None) -> int:
    """Mark sources due now (all, or those named), as if their interval had passed."""
    query = update(Source).values(next_check_at=now)
    if source_ids is not None:
        query = query.where(Source.id.in_(list(source_ids)))
    return session.execute(query).rowcount


def table_counts(session: Session) -> dict[str, int]:
    return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Prospect, Source, Item, Mention, Signal)}

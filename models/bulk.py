"""Bulk loading: a source run's items, and benchmarks' and large imports' rows.

Rows go in through Core `insert()` with many parameter sets per statement
(executemany), which both SQLite and psycopg batch well; the ORM's unit of work
would cost ten times as much at a million rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Collection, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from models.tables import Item, Mention, Prospect, Signal, Source
from models.values import ItemToStore

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


# --- rows straight to the driver --------------------------------------------------------------

# SQLite allows 32,766 parameters per statement, PostgreSQL 65,535.
_MAX_PARAMETERS = 30_000
_PROCESSORS: dict[tuple, tuple] = {}


def insert_values(session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]],
                  returning: Sequence[str] = (), repeated: Collection[str] = ()) -> list[tuple]:
    """Insert rows (tuples in `columns` order) through the driver; returns the `returning` columns.

    Each value goes through its column type's own bind processor (UTC datetimes, JSON), so
    the database receives exactly what a Core insert would send. What is skipped is SQLAlchemy's
    bookkeeping per row (a parameter dict compiled, cached and checked per row, then flattened),
    which cost a run's storing more than SQLite's own work. Without `returning`: one executemany;
    with it: multi-row INSERT ... VALUES (...), (...) RETURNING, in chunks. RETURNING's order is
    not promised on SQLite: callers return a column that identifies each row.

    `repeated`: columns whose values recur across rows (tuples of strings, say), so each distinct
    value goes through the processor once; only for values that are equal exactly when they
    bind the same (not 1 beside 1.0 or True).
    """
    if not rows:
        return []
    connection = session.connection()
    dialect = connection.dialect
    values = _bound(_bind_processors(dialect, table, tuple(columns)), rows,
                    {columns.index(name) for name in repeated})
    group = f"({', '.join(['?'] * len(columns))})"
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    if not returning:
        connection.exec_driver_sql(_marks(dialect, head + group), values)
        return []
    found: list[tuple] = []
    size = max(1, _MAX_PARAMETERS // len(columns))
    for start in range(0, len(values), size):
        chunk = values[start:start + size]
        statement = f"{head}{', '.join([group] * len(chunk))} RETURNING {', '.join(returning)}"
        found.extend(connection.exec_driver_sql(_marks(dialect, statement),
                                                tuple(v for row in chunk for v in row)).all())
    return found


def _bound(processors: tuple, rows: Sequence[Sequence[Any]], repeated: Collection[int] = ()) -> list[tuple]:
    """Rows with each value through its column's bind processor.

    A value that is the very object the row before had in that column (a run's `now` in every
    row, an item's sort time in each of its mentions) is not processed again, nor is a value of
    a `repeated` column seen before.
    """
    active = [(index, _Once(process) if index in repeated else process)
              for index, process in enumerate(processors) if process is not None]
    if not active:
        return [tuple(row) for row in rows]
    last: list[tuple[Any, Any]] = [(_NOTHING, None)] * len(active)
    bound = []
    for row in rows:
        row = list(row)
        for slot, (index, process) in enumerate(active):
            value = row[index]
            before, result = last[slot]
            if value is not before:
                result = process(value)
                last[slot] = (value, result)
            row[index] = result
        bound.append(tuple(row))
    return bound


class _Once:
    """A bind processor that processes each distinct value once."""

    def __init__(self, process) -> None:
        self.process = process
        self.done: dict[Any, Any] = {}

    def __call__(self, value: Any) -> Any:
        try:
            return self.done[value]
        except KeyError:
            result = self.done[value] = self.process(value)
            return result


_NOTHING = object()


def _marks(dialect, sql: str) -> str:
    """SQL written with `?` placeholders in the driver's own style (psycopg: %s)."""
    return sql if dialect.paramstyle == "qmark" else sql.replace("?", "%s")


def select_in(session: Session, sql: str, fixed: Sequence[Any], values: Sequence[Any],
              result_types: Mapping[int, Any] | None = None) -> list[tuple]:
    """Rows of `sql` through the driver, for `values` (deduplicated) 500 at a time.

    `sql` is written with `?` placeholders: first those of `fixed`, then `{in}` where the
    IN list goes. `result_types` as for `select_rows`.

    A lookup a run makes once or twice costs SQLAlchemy more to build, compile-cache and
    execute as Core than the database takes to answer it.
    """
    unique = list(dict.fromkeys(values))
    found: list[tuple] = []
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start:start + _IN_CHUNK]
        found.extend(select_rows(session, sql.replace("{in}", ", ".join(["?"] * len(chunk))), (*fixed, *chunk),
                                 result_types))
    return found


def execute_in(session: Session, sql: str, fixed: Sequence[Any], values: Sequence[Any]) -> None:
    """Run a statement that returns no rows (an UPDATE, a DELETE) through the driver for `values`
    (deduplicated), 500 at a time; `sql` is written as for `select_in`."""
    connection = session.connection()
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start:start + _IN_CHUNK]
        connection.exec_driver_sql(_marks(connection.dialect, sql.replace("{in}", ", ".join(["?"] * len(chunk)))),
                                   (*fixed, *chunk))


def execute_rows(session: Session, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """One statement (written with `?` placeholders) for many parameter rows: one executemany
    through the driver. Values go as given: plain ids and counts, or values already `bound`."""
    if not rows:
        return
    connection = session.connection()
    connection.exec_driver_sql(_marks(connection.dialect, sql), list(rows))


def select_rows(session: Session, sql: str, parameters: Sequence[Any],
                result_types: Mapping[int, Any] | None = None) -> list[tuple]:
    """Rows of `sql` (written with `?` placeholders) through the driver.

    `result_types`: column position -> SQLAlchemy type whose result processor that column goes
    through (what a Core select would return: UTC datetimes and JSON on SQLite).
    """
    connection = session.connection()
    dialect = connection.dialect
    rows = connection.exec_driver_sql(_marks(dialect, sql), tuple(parameters)).all()
    processors = [(index, type_.dialect_impl(dialect).result_processor(dialect, None))
                  for index, type_ in (result_types or {}).items()]
    processors = [(index, process) for index, process in processors if process is not None]
    return [_processed(row, processors) for row in rows] if processors else [tuple(row) for row in rows]


def bound(session: Session, column, value: Any) -> Any:
    """`value` as a statement through the driver must receive it for `column` (UTC datetimes, booleans)."""
    dialect = session.connection().dialect
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return value if process is None else process(value)


def _processed(row: Sequence[Any], processors: Sequence[tuple[int, Any]]) -> tuple:
    row = list(row)
    for index, process in processors:
        row[index] = process(row[index])
    return tuple(row)


def update_row(session: Session, table: Table, row_id: Any, values: Mapping[str, Any],
               expressions: Sequence[tuple[str, Sequence[Any]]] = ()) -> None:
    """UPDATE one row by primary key `id` through the driver.

    `values`: column -> value, each through its column's bind processor; `expressions`:
    (SQL of one `column = ...` assignment with `?` placeholders, its parameters) for what
    is computed from the row itself (counters, conditional values).
    """
    connection = session.connection()
    dialect = connection.dialect
    columns = tuple(values)
    processors = _bind_processors(dialect, table, columns)
    assignments = [f"{name} = ?" for name in columns] + [sql for sql, _ in expressions]
    parameters = [value if process is None else process(value)
                  for process, value in zip(processors, values.values())]
    for _, extra in expressions:
        parameters.extend(extra)
    parameters.append(row_id)
    connection.exec_driver_sql(_marks(dialect, f"UPDATE {table.name} SET {', '.join(assignments)} WHERE id = ?"),
                               tuple(parameters))


def update_by_id(session: Session, table: Table, column: str, pairs: Sequence[tuple[Any, int]]) -> None:
    """Set one plain column (no type processing: ids, counts) of rows by primary key, (value, id) each,
    as one executemany through the driver."""
    if not pairs:
        return
    connection = session.connection()
    connection.exec_driver_sql(_marks(connection.dialect, f"UPDATE {table.name} SET {column} = ? WHERE id = ?"),
                               list(pairs))


def _bind_processors(dialect, table: Table, columns: tuple[str, ...]) -> tuple:
    key = (dialect, table.name, columns)
    found = _PROCESSORS.get(key)
    if found is None:
        found = _PROCESSORS[key] = tuple(table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                                         for name in columns)
    return found


# --- a source run's items, stored set-based (repository.store_run) ---------------------------

_IN_CHUNK = 500


@dataclass(frozen=True)
class StoredItem:
    id: int
    content_hash: str
    sort_at: datetime
    story_id: int | None


def stored_items(session: Session, source_id: str, keys: Sequence[str]) -> dict[str, StoredItem]:
    """What the source already stores under these keys (an indexed lookup per 500 keys)."""
    rows = select_in(session, "SELECT dedup_key, id, content_hash, sort_at, story_id FROM items "
                              "WHERE source_id = ? AND dedup_key IN ({in})", (source_id,), keys,
                     result_types={3: Item.__table__.c.sort_at.type})
    return {key: StoredItem(item_id, content_hash, sort_at, story_id)
            for key, item_id, content_hash, sort_at, story_id in rows}


def _item_fields(data: ItemToStore) -> dict:
    return {"guid": data.guid, "url": data.url, "title": data.title, "summary": data.summary,
            "content": data.content, "author": data.author, "visibility": data.visibility,
            "content_hash": data.content_hash, "published_at": data.published_at}


def insert_new_items(session: Session, source_id: str, items: Sequence[ItemToStore],
                     now: datetime) -> dict[str, int]:
    """Insert items not stored yet (multi-row INSERT ... RETURNING); dedup key -> new id.

    Ids are matched to rows by their dedup key (unique within the source), not by order.
    """
    rows = [(source_id, data.dedup_key, now, now, data.published_at or now, data.guid, data.url, data.title,
             data.summary, data.content, data.author, data.visibility, data.content_hash, data.published_at)
            for data in items]
    return {key: item_id for item_id, key in insert_values(session, Item.__table__, _ITEM_COLUMNS, rows,
                                                           returning=("id", "dedup_key"))}


_ITEM_COLUMNS = ("source_id", "dedup_key", "first_seen_at", "updated_at", "sort_at", "guid", "url", "title",
                 "summary", "content", "author", "visibility", "content_hash", "published_at")


def update_changed_items(session: Session, changed: Mapping[int, ItemToStore], now: datetime) -> None:
    """Edited entries: new fields and `updated`, their old mentions and signals dropped (re-added by the caller)."""
    if not changed:
        return
    table = Item.__table__
    values = {name: bindparam(f"v_{name}") for name in _item_fields(next(iter(changed.values())))}
    statement = (update(table).where(table.c.id == bindparam("v_id"))
                 .values(updated_at=bindparam("v_updated_at"),
                         sort_at=func.coalesce(bindparam("v_published_at", type_=table.c.published_at.type),
                                               table.c.sort_at),
                         **values))
    params = [{"v_id": item_id, "v_updated_at": now, **{f"v_{k}": v for k, v in _item_fields(data).items()}}
              for item_id, data in changed.items()]
    session.execute(statement, params)
    ids = list(changed)
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start:start + _IN_CHUNK]
        session.execute(delete(Mention.__table__).where(Mention.__table__.c.item_id.in_(chunk)))
        session.execute(delete(Signal.__table__).where(Signal.__table__.c.item_id.in_(chunk)))


def insert_mentions_and_signals(session: Session, items: Iterable[tuple[int, ItemToStore, datetime]]) -> None:
    """Mentions and signals of stored items: (item id, item, the item's sort time) each.

    Evidence and stages go as tuples (JSON arrays all the same), so the stages of a signal type
    and evidence that recurs (a rule's pattern) are serialized once a run.
    """
    mentions, signals = [], []
    for item_id, data, sort_at in items:
        mentions.extend((item_id, m.prospect_id, m.score, tuple(m.evidence), sort_at) for m in data.mentions)
        signals.extend((item_id, s.type, s.score, tuple(s.evidence), s.prospect_id, s.role, tuple(s.stages) or None)
                       for s in data.signals)
    insert_values(session, Mention.__table__, ("item_id", "prospect_id", "score", "evidence", "sort_at"), mentions,
                  repeated=("evidence",))
    insert_values(session, Signal.__table__,
                  ("item_id", "type", "score", "evidence", "prospect_id", "role", "stages"), signals,
                  repeated=("evidence", "stages"))

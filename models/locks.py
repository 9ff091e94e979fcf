"""Cluster-wide locks for the few steps that must not run twice at once.

Several `intel worker` / `intel serve` processes may start together against one
PostgreSQL. Alembic migrations and the config sync each assume they are alone
(two `CREATE TABLE`s of the same table, or two inserts of the same new prospect,
fail), so both take a PostgreSQL advisory lock (on SQLite a migration runs in one
transaction that holds the write lock). On SQLite the database's own write
lock lets one writer in at a time, but only from its first write on: a transaction
that reads first (what is due, what is taken) takes the lock up front
(`write_lock_first`).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

# Arbitrary constants that name the lock; any 64-bit values unique to this app.
SCHEMA_LOCK = 0x50524F53_0001   # "PROS" 1: migrations
CONFIG_SYNC_LOCK = 0x50524F53_0002  # "PROS" 2: config sync


@contextmanager
def schema_lock(engine: Engine) -> Iterator[None]:
    """Hold the migration lock for the duration of the block (session-level, own connection)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK})


def serialize_config_sync(session: Session) -> None:
    """Wait until no other process is syncing config; released when `session` commits."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CONFIG_SYNC_LOCK})
    else:
        write_lock_first(session)


def write_lock_first(session: Session | Connection) -> None:
    """On SQLite, begin the session's transaction holding the write lock (BEGIN IMMEDIATE).

    The sqlite3 driver begins a transaction only at the first write, so a claim that
    reads which rows are free and then marks them taken reads outside any transaction:
    two processes (two workers, or `intel fetch` beside `intel run`) both read a row as
    free and both take it. Holding the lock from the start makes the read and the write
    one step, as `FOR UPDATE SKIP LOCKED` does on PostgreSQL. Other databases, and a
    transaction that has begun already, are left as they are.
    """
    connection = session.connection() if isinstance(session, Session) else session
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # waits out other writers (busy_timeout)

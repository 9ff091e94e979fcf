"""Cluster-wide locks for the few steps that must not run twice at once.

Several `intel worker` / `intel serve` processes may start together against one
PostgreSQL. Alembic migrations and the config sync each assume they are alone
(two `CREATE TABLE`s of the same table, or two inserts of the same new prospect,
fail), so both take a PostgreSQL advisory lock. SQLite needs nothing: its own
write lock already lets one writer in at a time.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Engine, text
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

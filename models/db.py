"""Engine and session setup, and schema migrations (Alembic) applied from code."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from models.locks import schema_lock

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Per connection (SQLite's default is 2 MiB): story clustering's band lookups and inserts touch pages all
# over story_bands. At 50,000 stories, clustering plus commit per item: 2 MiB ~1,360 us, 8 MiB ~1,230,
# 16 MiB ~1,170 (64 did no better). Each pooled connection fills its own cache: a worker's peak RSS after
# 150,000 items was 334 MiB at 2 MiB, 360 at 8 and 396 at 16 (bench/ingest.py --memory-only), so 8 keeps
# most of the gain and the 1,000,000-item memory goal its margin.
SQLITE_CACHE_KIB = 8_192
# WAL pages before a checkpoint copies them back (default 1,000): a run's commit writes ~1,500 pages of
# random band inserts, so the default checkpointed after every run; a bigger WAL copies a page rewritten
# by several runs once (commit CPU at 50,000 stories: 450 -> 340 us/item). At most ~32 MiB of WAL file.
SQLITE_WAL_CHECKPOINT_PAGES = 8_000


def make_engine(url: str) -> Engine:
    """An engine for any SQLAlchemy URL; SQLite gets WAL, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                              "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_CHECKPOINT_PAGES}")
        cursor.close()

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(engine: Engine) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


class MigrationHistoryError(RuntimeError):
    """The migrations fork: a new one was not chained on the current head."""


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (idempotent; safe when several processes start at once).

    One history, one head (0004_merge joined the old parallel branches): a
    migration added on an older revision forks it again, and Alembic cannot
    tell which head "head" means, so that is refused up front, saying what to do.
    """
    config = _alembic_config(engine)
    if revision == "head":
        heads = ScriptDirectory.from_config(config).get_heads()
        if len(heads) > 1:
            raise MigrationHistoryError(
                f"the migrations in {MIGRATIONS / 'versions'} have {len(heads)} heads ({', '.join(sorted(heads))}); "
                "set each new migration's down_revision to the current head, or add a merge revision")
    with schema_lock(engine):
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    # A database part-way through the old parallel branches has several: name them all.
    with engine.connect() as connection:
        heads = MigrationContext.configure(connection).get_current_heads()
    return ", ".join(sorted(heads)) or None

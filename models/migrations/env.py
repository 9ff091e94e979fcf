"""Alembic environment: runs against the engine handed over by `models.db.upgrade`."""

from alembic import context
from sqlalchemy import create_engine

from models.locks import write_lock_first
from models.tables import Base

config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))

with engine.begin() as connection:
    # Processes starting together on a new SQLite file: the first to hold the write lock migrates,
    # the others wait and find the work done (PostgreSQL: models.locks.schema_lock).
    write_lock_first(connection)
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()

"""Make the database match the config: prospects and sources, keeping fetch state."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from intel.clock import utcnow
from intel.settings import Config, SourceConfig
from models import repository
from models.locks import serialize_config_sync

# Fields of a source that are columns of their own; everything else goes to `settings`.
_SOURCE_COLUMNS = {"id", "kind", "url", "title", "every", "cron", "visibility", "enabled"}


def source_row(source: SourceConfig) -> dict[str, Any]:
    return {"id": source.id, "kind": source.kind, "url": source.url, "title": source.title,
            "visibility": source.visibility, "every_seconds": source.every, "cron": source.cron,
            "enabled": source.enabled,
            "settings": source.model_dump(mode="json", exclude=_SOURCE_COLUMNS, exclude_none=True)}


def sync_config(sessions: sessionmaker[Session], config: Config) -> None:
    """One transaction: config prospects upserted (others from config archived), sources synced."""
    from intel.templates import sync_sources_with_prospects  # it imports source_row from here

    now = utcnow()
    with sessions.begin() as session:
        serialize_config_sync(session)  # workers starting together would insert the same rows
        repository.sync_prospects(session, [p.model_dump() for p in config.prospects], origin="config", now=now)
        # Sources follow prospects: per-prospect templates are expanded against the stored list.
        sync_sources_with_prospects(session, config, now)

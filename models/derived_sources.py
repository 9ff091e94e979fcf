"""Sources made at run time rather than written in config: feeds a discover source found.

A discover source's feeds are rss sources named `<discover id>--feed-<hash>`;
they follow their discover source: a feed it no longer finds, or whose
discover source is disabled, is disabled with a reason (never deleted).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.tables import Source

NOT_FOUND_AGAIN = "its discover source no longer finds this feed"
PARENT_DISABLED = "its discover source is disabled"


@dataclass(frozen=True)
class FoundFeed:
    url: str
    title: str | None = None


def discovered_feed_id(parent_id: str, url: str) -> str:
    return f"{parent_id}--feed-{hashlib.sha256(url.encode()).hexdigest()[:10]}"


def subscribe_discovered(session: Session, parent_id: str, feeds: Sequence[FoundFeed], *,
                         every_seconds: float | None, now: datetime) -> list[str]:
    """Upsert an rss source per feed found; disable the parent's feeds not found this time.

    Returns the ids of feeds that are new or enabled again.
    """
    parent = session.get(Source, parent_id)
    if parent is None:
        return []
    parent_settings = parent.settings or {}
    wanted = {discovered_feed_id(parent_id, feed.url): feed for feed in feeds}
    existing = {row.id: row for row in session.scalars(select(Source).where(Source.id.like(_escape_like(parent_id) + "--feed-%", escape="\\")))}
    started = []
    for source_id, feed in wanted.items():
        settings: dict[str, Any] = {"discovered_by": parent_id, "config_url": feed.url}
        for key in ("prospect", "attach_prospect"):
            if key in parent_settings:
                settings[key] = parent_settings[key]
        if parent_settings.get("allow_private") and urlsplit(feed.url).hostname == urlsplit(parent.url).hostname:
            settings["allow_private"] = True  # the opted-in host itself, nothing else
        title = feed.title or feed.url
        if parent.title:
            title = f"{parent.title}: {title}"
        row = existing.get(source_id)
        if row is None:
            session.add(Source(id=source_id, kind="rss", url=feed.url, title=title, visibility=parent.visibility,
                               settings=settings, every_seconds=every_seconds, cron=None, enabled=True,
                               next_check_at=now, error_count=0))
            started.append(source_id)
            continue
        row.title, row.visibility, row.every_seconds = title, parent.visibility, every_seconds
        row.settings = {**settings, "config_url": (row.settings or {}).get("config_url", feed.url)}
        if not row.enabled and row.disabled_reason in (NOT_FOUND_AGAIN, PARENT_DISABLED):
            row.enabled, row.disabled_reason, row.next_check_at = True, None, now
            started.append(source_id)
    for source_id, row in existing.items():
        if source_id not in wanted and row.enabled:
            row.enabled, row.disabled_reason = False, NOT_FOUND_AGAIN
    return started


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def disable_orphaned_feeds(session: Session, *, now: datetime) -> int:
    """Disable discovered feeds whose discover source is gone or disabled."""
    disabled = 0
    enabled_parents = {row.id for row in session.scalars(select(Source).where(Source.enabled.is_(True)))}
    for row in session.scalars(select(Source).where(Source.enabled.is_(True))):
        parent_id = (row.settings or {}).get("discovered_by")
        if parent_id and parent_id not in enabled_parents:
            row.enabled, row.disabled_reason = False, PARENT_DISABLED
            disabled += 1
    return disabled


def remember_state(session: Session, source_id: str, state: dict[str, Any]) -> None:
    """Keep what a connector asked to remember, in the run's own transaction."""
    row = session.get(Source, source_id)
    if row is not None:
        row.connector_state = state

"""Plain frozen values that cross from the pipeline into storage and out to the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Mention:
    """An item is about a prospect, with how sure we are and why."""

    prospect_id: str
    score: float
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Signal:
    """A sales trigger event found in an item (funding, acquisition, ...)."""

    type: str
    score: float
    evidence: tuple[str, ...] = ()
    prospect_id: str | None = None
    role: str | None = None
    # The sales stages this kind of event helps (prospecting, ..., servicing).
    stages: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemToStore:
    dedup_key: str
    title: str
    content_hash: str
    guid: str | None = None
    url: str | None = None
    summary: str = ""
    content: str = ""
    author: str | None = None
    visibility: str = "external"
    published_at: datetime | None = None
    mentions: tuple[Mention, ...] = ()
    signals: tuple[Signal, ...] = ()


@dataclass(frozen=True)
class SourceState:
    """A source as the scheduler hands it to a run: config plus stored fetch state."""

    id: str
    kind: str
    url: str
    visibility: str
    settings: dict[str, Any]
    every_seconds: float | None
    cron: str | None
    etag: str | None
    last_modified: str | None
    error_count: int
    # The worker holding the lease: its run releases the lease only if it still holds it.
    lease_owner: str | None = None
    # What the connector asked to remember after its last successful run.
    connector_state: dict[str, Any] | None = None


@dataclass(frozen=True)
class RunRecord:
    """What one run of a source did, for the source_runs table and the source's state."""

    started_at: datetime
    finished_at: datetime
    status: str  # ok | not_modified | failed
    next_check_at: datetime
    http_status: int | None = None
    bytes_read: int = 0
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    new_url: str | None = None
    disable_reason: str | None = None
    lease_owner: str | None = None


@dataclass(frozen=True)
class RunCounts:
    new: int = 0
    updated: int = 0
    seen: int = 0


@dataclass(frozen=True)
class FeedFilters:
    """Query-parameter filters shared by every feed and the items API."""

    signal: tuple[str, ...] = ()
    min_score: float | None = None
    stage: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    since: datetime | None = None
    q: str | None = None
    visibilities: tuple[str, ...] = ("external",)


@dataclass(frozen=True)
class Cursor:
    """Keyset position: entries strictly older than (sort_at, item_id)."""

    sort_at: datetime
    item_id: int

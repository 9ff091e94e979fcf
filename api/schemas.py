"""Response schemas of the JSON API, kept apart from the tables."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ProspectOut(BaseModel):
    id: str
    name: str
    aliases: list[str]
    domains: list[str]
    tickers: list[str]
    people: list[str]
    owners: list[str]
    stage: str | None
    industry: str | None
    feeds: dict[str, str]


class ProspectPage(BaseModel):
    prospects: list[ProspectOut]
    next_cursor: str | None


class MentionOut(BaseModel):
    prospect: str
    score: float
    evidence: list[str]


class SignalOut(BaseModel):
    type: str
    score: float
    prospect: str | None
    role: str | None
    evidence: list[str]


class ItemOut(BaseModel):
    id: int
    title: str
    url: str | None
    summary: str
    source: str
    published_at: datetime | None
    first_seen_at: datetime
    updated_at: datetime
    mentions: list[MentionOut]
    signals: list[SignalOut]


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None


class SourceHealthOut(BaseModel):
    id: str
    kind: str
    url: str
    title: str | None
    visibility: str
    enabled: bool
    disabled_reason: str | None
    error_count: int
    last_error: str | None
    last_run_at: datetime | None
    last_success_at: datetime | None
    next_check_at: datetime | None
    items: int
    last_status: str | None
    last_http_status: int | None
    last_items_new: int | None
    last_duration_ms: int | None


class Health(BaseModel):
    status: str
    database: str

"""Response schemas of the JSON API, kept apart from the tables."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


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
    last_items_seen: int | None = None
    last_bytes: int | None = None
    last_run_note: str | None = None


class Health(BaseModel):
    status: str
    database: str


class SignalCountOut(BaseModel):
    type: str
    last_30_days: int
    last_90_days: int


class LatestSignalOut(BaseModel):
    type: str
    score: float
    role: str | None
    item_id: int
    title: str
    url: str | None
    at: datetime


class PersonMentionedOut(BaseModel):
    name: str
    mentions: int
    last_seen: datetime


class HeatOut(BaseModel):
    score: int = Field(ge=0, le=100, description="0 (nothing happening) to 100 (act now)")
    level: Literal["cold", "warm", "hot"]
    reasons: list[str] = Field(description="what the score is made of, biggest first")


class IntelSummaryOut(BaseModel):
    mentions_30_days: int
    mentions_90_days: int
    signals: list[SignalCountOut]
    latest_signals: list[LatestSignalOut]
    people_mentioned: list[PersonMentionedOut]
    heat: HeatOut


class ProspectDetailOut(ProspectOut):
    summary: IntelSummaryOut


class TagIn(BaseModel):
    id: str | None = Field(None, max_length=200, description="echoed back, for matching answers to questions")
    title: str = Field("", max_length=2000)
    text: str = Field("", max_length=100_000, description="summary or body text")
    url: str | None = Field(None, max_length=2000)


class TagOut(BaseModel):
    id: str | None
    mentions: list[MentionOut]
    signals: list[SignalOut]

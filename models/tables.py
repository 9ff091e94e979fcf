"""SQLAlchemy 2 tables. Objects of these classes never leave `models/` and the API handlers."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String,
                        PrimaryKeyConstraint, Text, TypeDecorator, UniqueConstraint)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class _SqliteDateTime(sqlite.DATETIME):
    """SQLite's text storage of naive UTC datetimes, written by `datetime.isoformat` (C) instead of
    SQLAlchemy's %-formatting: the same text, 'YYYY-MM-DD HH:MM:SS.ffffff', at a third of the cost
    (a stored item binds five of them)."""

    def bind_processor(self, dialect: Any):
        def process(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat(" ", "microseconds")
        return process


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC in Python on every backend (SQLite keeps no offset)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteDateTime())
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use UTC-aware values")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=timezone.utc) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Prospect(Base):
    __tablename__ = "prospects"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    domains: Mapped[list[Any]] = mapped_column(default=list)
    tickers: Mapped[list[Any]] = mapped_column(default=list)
    people: Mapped[list[Any]] = mapped_column(default=list)
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    exclude: Mapped[list[Any]] = mapped_column(default=list)
    owners: Mapped[list[Any]] = mapped_column(default=list)
    stage: Mapped[str | None] = mapped_column(String(40))
    industry: Mapped[str | None] = mapped_column(String(200))
    ambiguous: Mapped[bool | None] = mapped_column(Boolean)
    # Where the record came from ("config", "crm:<source>"): a sync only archives its own.
    origin: Mapped[str] = mapped_column(String(200), default="config")
    archived_at: Mapped[datetime | None]
    # Indexed: every source run asks for its maximum, whether the prospect list changed (0006).
    updated_at: Mapped[datetime] = mapped_column(index=True)


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(String(500))
    visibility: Mapped[str] = mapped_column(String(20), default="external")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    every_seconds: Mapped[float | None] = mapped_column(Float)
    cron: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    next_check_at: Mapped[datetime | None]
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_run_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    # What a connector remembers between runs (a watched page's line hashes, ...); 0002_connectors.
    connector_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_sources_due", "enabled", "next_check_at"),)


class SourceRun(Base):
    __tablename__ = "source_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))  # ok | not_modified | failed
    http_status: Mapped[int | None] = mapped_column(Integer)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    bytes_read: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    # guid when the feed gives a usable one, else a key derived from link or title+date.
    dedup_key: Mapped[str] = mapped_column(String(64))
    guid: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(20), default="external")
    content_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    # When what a reader sees last changed (title, summary, mentions): feeds' <updated>.
    updated_at: Mapped[datetime]
    # published_at, or first_seen_at for undated entries: what feeds sort by.
    sort_at: Mapped[datetime] = mapped_column(index=True)

    mentions: Mapped[list["Mention"]] = relationship(back_populates="item", cascade="all, delete-orphan",
                                                     lazy="selectin")
    signals: Mapped[list["Signal"]] = relationship(back_populates="item", cascade="all, delete-orphan",
                                                   lazy="selectin")
    source: Mapped[Source] = relationship(lazy="joined")
    # The near-duplicate story this item belongs to (0002_intel); feeds show one entry per story.
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"), index=True)
    story: Mapped["Story | None"] = relationship(foreign_keys=[story_id], lazy="selectin")

    __table_args__ = (UniqueConstraint("source_id", "dedup_key", name="uq_items_source_key"),)


class Mention(Base):
    __tablename__ = "mentions"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    prospect_id: Mapped[str] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    # Denormalized from the item so a prospect's feed is one index range scan.
    sort_at: Mapped[datetime]

    item: Mapped[Item] = relationship(back_populates="mentions")

    __table_args__ = (Index("ix_mentions_prospect_sort", "prospect_id", "sort_at"),)


class Signal(Base):
    __tablename__ = "signals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    prospect_id: Mapped[str | None] = mapped_column(ForeignKey("prospects.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40), index=True)
    score: Mapped[float] = mapped_column(Float)
    role: Mapped[str | None] = mapped_column(String(40))
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    # Set once the alert rules have looked at this signal (models/alerts.py).
    alert_checked_at: Mapped[datetime | None] = mapped_column(index=True)
    # The sales stages this kind of event helps (intel/signal_taxonomy.py); 0002_intel.
    stages: Mapped[list[Any] | None] = mapped_column(JSON)

    item: Mapped[Item] = relationship(back_populates="signals")


class ApiToken(Base):
    """A private feed/API token. Only its SHA-256 is stored: a leaked database leaks no tokens."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user: Mapped[str] = mapped_column(String(320), index=True)
    # False: only the prospects the user owns; True: every prospect.
    all_prospects: Mapped[bool] = mapped_column(Boolean, default=False)
    # False: external items only; True: internal items (CRM notes, internal sources) too.
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class AlertDelivery(Base):
    """One item to send to one webhook; unique per (target, item), so nothing is sent twice."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(200))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    prospect_ids: Mapped[list[Any]] = mapped_column(default=list)
    rules: Mapped[list[Any]] = mapped_column(default=list)
    signal_types: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Due time while pending; a claimed delivery's lease pushes it forward.
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    http_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("target", "item_id", name="uq_alert_deliveries_target_item"),
                      Index("ix_alert_deliveries_due", "status", "next_attempt_at"))


class Story(Base):
    """One news story however many sources carried it (near-duplicates clustered; 0002_intel)."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The item feeds show for the story: the first one seen.
    lead_item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL",
                                                                use_alter=True, name="fk_stories_lead_item"))
    # MinHash values of the lead item, 128 big-endian uint32 (models/stories.py packs them; 0008)
    signature: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    # Its band keys, signed 64-bit little-endian: workers hold the newest stories' in memory (0009).
    band_keys: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    # The story_index sequence number of the last change workers' indexes must see (started, re-dated).
    touched: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    item_count: Mapped[int] = mapped_column(Integer, default=1)
    source_count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime]
    # When the last new source joined: the lead entry's new `updated`.
    updated_at: Mapped[datetime] = mapped_column(index=True)

    items: Mapped[list[Item]] = relationship(foreign_keys="Item.story_id", viewonly=True, lazy="selectin",
                                             order_by="Item.id")

    # Which candidate stories are in the window, and their leads, answered from this index (0007).
    __table_args__ = (Index("ix_stories_window", "id", "updated_at", "lead_item_id"),)


class StoryBand(Base):
    """Locality-sensitive hash bands of a story's signature: candidates in one indexed lookup.

    One row per band key (a signed 64-bit hash that mixes in the band number) and story, keyed
    by (hash, story_id): candidates are found by hash through the primary key itself. On SQLite
    the table is WITHOUT ROWID, so a band row is one entry in one b-tree plus the story_id
    index that deletes need (migration 0005_bands).
    """

    __tablename__ = "story_bands"

    hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE", name="fk_story_bands_story"),
                                          primary_key=True, autoincrement=False, index=True)

    __table_args__ = (PrimaryKeyConstraint("hash", "story_id", name="pk_story_bands"),
                      {"sqlite_with_rowid": False})


class StoryIndexState(Base):
    """One row: how far stories' bands are in story_bands, and the changes to stories so far
    (models/story_index.py keeps the bands of later stories in each worker's memory; 0009)."""

    __tablename__ = "story_index"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Every story with an id up to this one has its band rows; no later one has.
    banded_through: Mapped[int] = mapped_column(BigInteger, default=0)
    # The last number given to stories.touched.
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    # Changed when stories are deleted or led by another item: every worker reads its index again.
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class OrganizationSeen(Base):
    """An organization (not a prospect) a statistical model found in an item: lead discovery."""

    __tablename__ = "organizations_seen"

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    org_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    # Signal types of the item strong enough to count (score >= the discovery threshold).
    signal_types: Mapped[list[Any]] = mapped_column(default=list)
    seen_at: Mapped[datetime]

    __table_args__ = (Index("ix_organizations_seen_key", "org_key", "seen_at"),)



class ConfigCheck(Base):
    """The outcome of a worker loading its config (at start and on every reload), for the ops page."""

    __tablename__ = "config_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    checked_at: Mapped[datetime]
    path: Mapped[str] = mapped_column(Text)
    ok: Mapped[bool] = mapped_column(Boolean)
    # FILE:LINE:COL: field: message lines; empty when ok
    problems: Mapped[list[Any]] = mapped_column(default=list)

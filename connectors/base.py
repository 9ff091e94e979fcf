"""Values and errors shared by every connector.

A connector turns one configured source into `RawItem`s. It never touches the
database or spaCy: it gets a `SourceSpec` (what to fetch, plus the HTTP
validators from the last run) and returns a `FetchResult`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Protocol


class ConnectorError(Exception):
    """Root of every error a connector raises; the message is shown to ops staff."""


class FetchError(ConnectorError):
    """The source could not be retrieved (network, HTTP status, limits)."""

    def __init__(self, message: str, *, http_status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.retry_after = retry_after


class GoneError(FetchError):
    """The server says the source is gone for good (HTTP 410)."""


class ParseError(ConnectorError):
    """The source was retrieved but its content could not be understood."""


@dataclass(frozen=True)
class RawItem:
    """One normalized entry as a connector saw it.

    `identity` ignores volatile fields (fetch time, summary edits) so the same
    entry seen twice hashes the same; `content_hash` covers what a reader sees
    so an edited entry can be told from an unchanged one.
    """

    title: str
    url: str | None = None
    guid: str | None = None
    summary: str = ""
    content: str = ""
    author: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    visibility: str = "external"
    # Which prospect a connector already knows the item belongs to (CRM notes).
    prospect_hint: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for part in (self.title, self.url or "", self.summary, self.content):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        return digest.hexdigest()


@dataclass(frozen=True)
class SourceSpec:
    """What a connector needs to fetch one source once."""

    id: str
    kind: str
    url: str
    visibility: str = "external"
    settings: Mapping[str, Any] = field(default_factory=dict)
    # The configured host may be on a private network (intranet feeds); other hosts never.
    allow_private: bool = False
    allow_file: bool = False
    etag: str | None = None
    last_modified: str | None = None
    # What the connector asked to remember after its last successful run (page hashes, ...).
    state: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class AccountRow:
    """One CRM account as an export had it, mapped onto prospect-record field names.

    `file` and `row` say where it came from so a bad row can be reported precisely.
    """

    file: str
    row: int
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class DiscoveredFeed:
    url: str
    title: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """The outcome of one successful fetch.

    `not_modified` means the server answered 304 (or a file is unchanged): there
    are no items and the stored validators stay valid.
    """

    items: tuple[RawItem, ...] = ()
    not_modified: bool = False
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    bytes_read: int = 0
    # Seconds the server asked us to wait before the next poll (Cache-Control, Expires).
    min_interval: float | None = None
    final_url: str | None = None
    warnings: tuple[str, ...] = ()
    # New connector state to remember (None: keep the old one).
    state: Mapping[str, Any] | None = None
    # A CRM accounts export: the full list of accounts (None: this source has none).
    accounts: tuple[AccountRow, ...] | None = None
    # A discover source: the feeds found (None: this source discovers nothing).
    discovered: tuple[DiscoveredFeed, ...] | None = None


class Connector(Protocol):
    """Fetches and parses one kind of source."""

    kind: str

    def fetch(self, spec: SourceSpec) -> FetchResult: ...

"""RSS 0.9x/1.0/2.0 and Atom feeds: fetched politely, parsed by lxml when plain (connectors.fast_feed), else feedparser."""

from __future__ import annotations

import calendar
from datetime import datetime, timezone
from typing import Any

import feedparser

from connectors.base import FetchResult, ParseError, RawItem, SourceSpec
from connectors.fast_feed import parse_plain_feed
from connectors.http import PoliteClient, fetch_fields


class RssConnector:
    kind = "rss"

    def __init__(self, client: PoliteClient) -> None:
        self.client = client

    def fetch(self, spec: SourceSpec) -> FetchResult:
        response = self.client.get(spec)
        headers = response.headers
        common = fetch_fields(response, spec)
        if response.not_modified:
            return FetchResult(not_modified=True, **common)
        items, warnings = parse_feed(response.body, base_url=response.url,
                                     content_type=headers.get("content-type"),
                                     visibility=spec.visibility)
        return FetchResult(items=items, bytes_read=len(response.body), warnings=warnings, **common)


def parse_feed(body: bytes, *, base_url: str = "", content_type: str | None = None,
               visibility: str = "external") -> tuple[tuple[RawItem, ...], tuple[str, ...]]:
    """Parse feed bytes into RawItems; a document with no feed in it is a ParseError."""
    refuse_entity_declarations(body)
    items = parse_plain_feed(body, base_url=base_url, content_type=content_type, visibility=visibility)
    if items is not None:
        return items, ()
    return parse_with_feedparser(body, base_url=base_url, content_type=content_type, visibility=visibility)


def parse_with_feedparser(body: bytes, *, base_url: str = "", content_type: str | None = None,
                          visibility: str = "external") -> tuple[tuple[RawItem, ...], tuple[str, ...]]:
    """Any feed feedparser reads, however malformed or encoded (the slow, lenient path)."""
    refuse_entity_declarations(body)
    headers = {"content-location": base_url}
    if content_type:
        headers["content-type"] = content_type
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=True,
                              resolve_relative_uris=True)
    problem = parsed.get("bozo_exception")
    if not parsed.entries and (problem is not None or not parsed.get("version")):
        reason = f"{type(problem).__name__}: {problem}" if problem else "no RSS or Atom feed found"
        raise ParseError(f"not a readable feed ({reason})")
    warnings = (f"feed parsed leniently: {problem}",) if problem is not None else ()
    items = tuple(_entry_to_item(entry, visibility) for entry in parsed.entries)
    return items, warnings


# Feeds never need their own entities; declaring them is how billion-laughs and
# external-entity (file:, http:) attacks start. Checked in every encoding a feed
# may come in, before any parser sees the document; the whole body is scanned
# (a byte search, cheap) because padding can push a DOCTYPE far from the start.
_ENTITY_DECLARATIONS = tuple("<!ENTITY".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be",
                                                                     "utf-32-le", "utf-32-be"))


def refuse_entity_declarations(body: bytes) -> None:
    if any(marker in body for marker in _ENTITY_DECLARATIONS):
        raise ParseError("the document declares XML entities in its DOCTYPE (entity expansion or external "
                         "entities: billion laughs, file:// or http:// reads); refused unparsed")


def _entry_to_item(entry: Any, visibility: str) -> RawItem:
    content = ""
    if entry.get("content"):
        content = "\n".join(part.get("value", "") for part in entry.content)
    summary = entry.get("summary", "")
    if summary == content:
        content = ""
    return RawItem(
        title=entry.get("title", "").strip() or "(untitled)",
        url=entry.get("link") or None,
        guid=(entry.get("id") or "").strip() or None,
        summary=summary,
        content=content,
        author=entry.get("author") or None,
        published_at=_to_datetime(entry.get("published_parsed")),
        updated_at=_to_datetime(entry.get("updated_parsed")),
        visibility=visibility,
    )


def _to_datetime(struct: Any) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), tz=timezone.utc)
    except (OverflowError, ValueError, TypeError):
        return None

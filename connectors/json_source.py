"""JSON endpoints (`kind: json`): JMESPath maps a document's entries to items.

Public JSON sources — job boards such as Greenhouse or Lever board APIs,
news search APIs — work without code:

    items: jobs                      # where the list is
    fields: {title: title, link: absolute_url, date: updated_at}
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from typing import Any, Mapping

import jmespath
from jmespath.exceptions import JMESPathError

from connectors.base import FetchResult, ParseError, RawItem, SourceSpec
from connectors.dates import parse_date
from connectors.http import PoliteClient, fetch_fields


@lru_cache(maxsize=256)
def _compiled(expression: str):
    return jmespath.compile(expression)


class JsonConnector:
    kind = "json"

    def __init__(self, client: PoliteClient) -> None:
        self.client = client

    def fetch(self, spec: SourceSpec) -> FetchResult:
        settings = spec.settings
        headers = {"Accept": "application/json", **settings.get("headers", {})}
        response = self.client.get(spec, headers=headers)
        common = fetch_fields(response, spec)
        if response.not_modified:
            return FetchResult(not_modified=True, **common)
        try:
            document = json.loads(response.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"{response.url} did not return JSON: {exc}") from exc
        items, skipped = map_entries(document, settings.get("items", "@"), settings["fields"],
                                     visibility=spec.visibility)
        warnings = (f"{skipped} entries had no title and were skipped",) if skipped else ()
        return FetchResult(items=items, bytes_read=len(response.body), warnings=warnings, **common)


def map_entries(document: Any, items_expression: str, fields: Mapping[str, str], *,
                visibility: str = "external") -> tuple[tuple[RawItem, ...], int]:
    """Items from the list `items_expression` finds; entries without a title are counted, not kept."""
    entries = _search(items_expression, document)
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise ParseError(f"items: {items_expression!r} found a {type(entries).__name__}, not a list of entries")
    items, skipped = [], 0
    for entry in entries:
        value = {name: _search_entry(expression, entry) for name, expression in fields.items() if expression}
        title = _as_text(value.get("title"))
        if not title:
            skipped += 1
            continue
        items.append(RawItem(
            title=title,
            url=_as_text(value.get("link")) or None,
            guid=_as_text(value.get("guid")) or None,
            summary=html.escape(_as_text(value.get("summary"))),
            content=_as_text(value.get("content")),
            author=_as_text(value.get("author")) or None,
            published_at=parse_date(value.get("date")),
            visibility=visibility,
        ))
    return tuple(items), skipped


def _search(expression: str, data: Any) -> Any:
    try:
        return _compiled(expression).search(data)
    except JMESPathError as exc:
        raise ParseError(f"JMESPath {expression!r} failed on this document: {exc}") from exc


def _search_entry(expression: str, entry: Any) -> Any:
    # One odd entry (a null where a string was expected) must not sink the others.
    try:
        return _search(expression, entry)
    except ParseError:
        return None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_as_text(v) for v in value if v is not None)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return " ".join(str(value).split())

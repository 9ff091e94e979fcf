"""Subscribable feeds: /feeds/prospects/{id}.atom|.rss|.json."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request, Response

from api.conditional import is_fresh, not_modified, validator_headers
from api.deps import SettingsDep, SessionDep
from api.feeds import build_entries, feed_validators
from api.render import MEDIA_TYPES, RENDERERS, FeedDoc
from models import repository
from models.values import Cursor, FeedFilters

router = APIRouter(prefix="/feeds", tags=["feeds"])
FeedFormat = Literal["atom", "rss", "json"]


def parse_filters(signal: list[str] | None, min_score: float | None, stage: list[str] | None,
                  source: list[str] | None, since: datetime | None, q: str | None) -> FeedFilters:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return FeedFilters(signal=tuple(signal or ()), min_score=min_score, stage=tuple(stage or ()),
                       source=tuple(source or ()), since=since, q=q or None)


def parse_cursor(before: str | None) -> Cursor | None:
    if not before:
        return None
    try:
        micros, _, item_id = before.partition("-")
        when = datetime.fromtimestamp(int(micros) / 1_000_000, tz=timezone.utc)
        return Cursor(sort_at=when, item_id=int(item_id))
    except ValueError:
        raise HTTPException(400, "before= is not a cursor this server gave out") from None


def cursor_after(items) -> str:
    last = items[-1]
    return f"{int(last.sort_at.timestamp() * 1_000_000)}-{last.id}"


@router.get("/prospects/{prospect_id}.{fmt}", summary="A prospect's feed (Atom, RSS or JSON Feed)",
            response_class=Response)
def prospect_feed(
    prospect_id: str, fmt: FeedFormat, request: Request, session: SessionDep, settings: SettingsDep,
    signal: Annotated[list[str] | None, Query(description="only items with these signal types")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
    stage: Annotated[list[str] | None, Query()] = None,
    source: Annotated[list[str] | None, Query(description="only items from these source ids")] = None,
    since: Annotated[datetime | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    before: Annotated[str | None, Query(description="paging cursor from a next link")] = None,
) -> Response:
    prospect = repository.get_prospect(session, prospect_id)
    if prospect is None:
        raise HTTPException(404, "no such feed")
    filters = parse_filters(signal, min_score, stage, source, since, q)
    page_size = limit or settings.page_size
    items = repository.prospect_feed(session, [prospect.id], filters, limit=page_size,
                                     cursor=parse_cursor(before))
    etag, last_modified = feed_validators(fmt, f"prospect:{prospect.id}", str(request.query_params),
                                          items, [prospect])
    headers = validator_headers(etag, last_modified, settings.max_age)
    if is_fresh(request, etag, last_modified):
        return not_modified(headers)
    base = settings.public_url
    self_url = f"{base}/feeds/prospects/{prospect.id}.{fmt}"
    query = dict(request.query_params)
    next_url = None
    if len(items) == page_size:
        next_url = f"{self_url}?{urlencode({**query, 'before': cursor_after(items)})}"
    if query:
        self_url = f"{self_url}?{urlencode(query)}"
    doc = FeedDoc(id=f"urn:prospect-intel:feed:prospect:{prospect.id}",
                  title=f"{prospect.name} — prospect intelligence",
                  description=f"News and signals about {prospect.name}, curated by prospect-intel.",
                  self_url=self_url, home_url=f"{base}/api/v1/prospects/{prospect.id}",
                  updated=last_modified, entries=build_entries(items, [prospect]), next_url=next_url)
    return Response(RENDERERS[fmt](doc), media_type=MEDIA_TYPES[fmt], headers=headers)

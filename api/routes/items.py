"""JSON API: /api/v1/items — every item the caller may see, with feed filters and cursor paging."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Query

from api.access import Viewer, ViewerDep
from api.deps import SessionDep, SettingsDep
from api.problems import BAD_REQUEST, PROBLEM_RESPONSES
from api.render import sanitize_html
from api.routes.feeds import (CURSOR_PATTERN, STAGE_FILTER_DOC, IsoDateTime, cursor_after, parse_cursor,
                              parse_filters)
from api.settings import StageFilterValue
from api.schemas import ItemOut, ItemPage, MentionOut, SignalOut
from models import feeds
from models.feeds import StageHelp
from models.tables import Item

router = APIRouter(prefix="/api/v1", tags=["items"], responses={**PROBLEM_RESPONSES, **BAD_REQUEST})


def item_out(item: Item, visible: set[str] | None) -> ItemOut:
    """An item as JSON, naming only prospects the caller may see (`None`: all)."""
    def shown(prospect_id: str | None) -> bool:
        return visible is None or prospect_id is None or prospect_id in visible

    return ItemOut(
        id=item.id, title=item.title, url=item.url, summary=sanitize_html(item.summary),
        source=item.source_id, published_at=item.published_at, first_seen_at=item.first_seen_at,
        updated_at=item.updated_at,
        mentions=[MentionOut(prospect=m.prospect_id, score=m.score, evidence=m.evidence)
                  for m in sorted(item.mentions, key=lambda m: -m.score) if shown(m.prospect_id)],
        signals=[SignalOut(type=s.type, score=s.score, prospect=s.prospect_id, role=s.role, evidence=s.evidence)
                 for s in item.signals if shown(s.prospect_id)])


def viewer_scope(session, viewer: Viewer) -> list[str] | None:
    """Prospect ids the caller may see; None: every prospect."""
    if viewer.all_prospects:
        return None
    return [p.id for p in feeds.owned_prospects(session, viewer.user or "")]


def item_page(session, viewer: Viewer, scope: list[str] | None, filters, limit: int,
              cursor: str | None, stage_help: StageHelp | None = None) -> ItemPage:
    """Items about prospects in `scope` the viewer may read, naming every prospect they may see."""
    filters = replace(filters, visibilities=viewer.visibilities)
    items = feeds.scoped_items(session, scope, filters, limit=limit, cursor=parse_cursor(cursor),
                               stage_help=stage_help)
    seen = viewer_scope(session, viewer)
    visible = None if seen is None else set(seen)
    return ItemPage(items=[item_out(i, visible) for i in items],
                    next_cursor=cursor_after(items) if len(items) == limit else None)


@router.get("/items", response_model=ItemPage, summary="Items about the caller's prospects, newest first")
def list_items(session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
               signal: Annotated[list[str] | None, Query(description="only items with these signal types")] = None,
               min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
               stage: Annotated[list[StageFilterValue] | None, Query(description=STAGE_FILTER_DOC)] = None,
               source: Annotated[list[str] | None, Query(description="source ids")] = None,
               since: Annotated[IsoDateTime | None, Query(description="ISO 8601")] = None,
               q: Annotated[str | None, Query(max_length=200)] = None,
               cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN, description="next_cursor of the previous page")] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50) -> ItemPage:
    filters = parse_filters(signal, min_score, stage, source, since, q)
    return item_page(session, viewer, viewer_scope(session, viewer), filters, limit, cursor, settings.stage_help)

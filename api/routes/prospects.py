"""JSON API about prospects: /api/v1/prospects, one prospect, its items."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import SettingsDep, SessionDep
from api.render import sanitize_html
from api.routes.feeds import cursor_after, parse_cursor, parse_filters
from api.schemas import ItemOut, ItemPage, MentionOut, ProspectOut, ProspectPage, SignalOut
from models import repository
from models.tables import Item, Prospect

router = APIRouter(prefix="/api/v1", tags=["prospects"])


def prospect_out(prospect: Prospect, base_url: str) -> ProspectOut:
    feeds = {fmt: f"{base_url}/feeds/prospects/{prospect.id}.{fmt}" for fmt in ("atom", "rss", "json")}
    return ProspectOut(id=prospect.id, name=prospect.name, aliases=prospect.aliases, domains=prospect.domains,
                       tickers=prospect.tickers, people=prospect.people, owners=prospect.owners,
                       stage=prospect.stage, industry=prospect.industry, feeds=feeds)


def item_out(item: Item) -> ItemOut:
    return ItemOut(
        id=item.id, title=item.title, url=item.url, summary=sanitize_html(item.summary),
        source=item.source_id, published_at=item.published_at, first_seen_at=item.first_seen_at,
        updated_at=item.updated_at,
        mentions=[MentionOut(prospect=m.prospect_id, score=m.score, evidence=m.evidence)
                  for m in sorted(item.mentions, key=lambda m: -m.score)],
        signals=[SignalOut(type=s.type, score=s.score, prospect=s.prospect_id, role=s.role, evidence=s.evidence)
                 for s in item.signals])


@router.get("/prospects", response_model=ProspectPage, summary="List or search prospects")
def list_prospects(session: SessionDep, settings: SettingsDep,
                   q: Annotated[str | None, Query(max_length=200, description="name contains")] = None,
                   owner: Annotated[str | None, Query()] = None,
                   stage: Annotated[str | None, Query()] = None,
                   cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> ProspectPage:
    rows = repository.prospects_page(session, q=q, owner=owner, stage=stage, after=cursor, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    base = settings.public_url
    return ProspectPage(prospects=[prospect_out(p, base) for p in rows],
                        next_cursor=rows[-1].id if more and rows else None)


@router.get("/prospects/{prospect_id}", response_model=ProspectOut, summary="One prospect")
def get_prospect(prospect_id: str, session: SessionDep, settings: SettingsDep) -> ProspectOut:
    prospect = repository.get_prospect(session, prospect_id)
    if prospect is None:
        raise HTTPException(404, "no such prospect")
    return prospect_out(prospect, settings.public_url)


@router.get("/prospects/{prospect_id}/items", response_model=ItemPage, summary="Items about one prospect")
def prospect_items(prospect_id: str, session: SessionDep,
                   signal: Annotated[list[str] | None, Query()] = None,
                   min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
                   source: Annotated[list[str] | None, Query()] = None,
                   since: Annotated[datetime | None, Query()] = None,
                   q: Annotated[str | None, Query(max_length=200)] = None,
                   cursor: Annotated[str | None, Query()] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50) -> ItemPage:
    prospect = repository.get_prospect(session, prospect_id)
    if prospect is None:
        raise HTTPException(404, "no such prospect")
    filters = parse_filters(signal, min_score, None, source, since, q)
    items = repository.prospect_feed(session, [prospect.id], filters, limit=limit, cursor=parse_cursor(cursor))
    return ItemPage(items=[item_out(i) for i in items],
                    next_cursor=cursor_after(items) if len(items) == limit else None)

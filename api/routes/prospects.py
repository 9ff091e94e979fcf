"""JSON API about prospects: list and search, lookup by domain or name, detail with intel, items."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.access import Viewer, ViewerDep, not_found
from api.deps import SessionDep, SettingsDep
from api.problems import BAD_REQUEST, PROBLEM_RESPONSES
from api.routes.feeds import CURSOR_PATTERN, IsoDateTime, parse_filters
from api.routes.items import item_page
from api.schemas import ItemPage, ProspectDetailOut, ProspectOut, ProspectPage
from api.summary import WINDOW_DAYS, intel_summary
from models import feeds, repository
from models.tables import Prospect

router = APIRouter(prefix="/api/v1", tags=["prospects"], responses={**PROBLEM_RESPONSES, **BAD_REQUEST})


def prospect_out(prospect: Prospect, base_url: str) -> ProspectOut:
    links = {fmt: f"{base_url}/feeds/prospects/{prospect.id}.{fmt}" for fmt in ("atom", "rss", "json")}
    return ProspectOut(id=prospect.id, name=prospect.name, aliases=prospect.aliases, domains=prospect.domains,
                       tickers=prospect.tickers, people=prospect.people, owners=prospect.owners,
                       stage=prospect.stage, industry=prospect.industry, feeds=links)


def prospect_detail(session, prospect: Prospect, viewer: Viewer, base_url: str) -> ProspectDetailOut:
    now = datetime.now(timezone.utc)
    activity = feeds.prospect_activity(session, prospect.id, since=now - timedelta(days=WINDOW_DAYS),
                                       visibilities=viewer.visibilities)
    return ProspectDetailOut(**prospect_out(prospect, base_url).model_dump(),
                             summary=intel_summary(activity, prospect.people, now))


def visible_prospect(session, prospect_id: str, viewer: Viewer) -> Prospect:
    prospect = repository.get_prospect(session, prospect_id)
    if prospect is None or not viewer.may_see_prospect(prospect.owners):
        raise not_found()
    return prospect


def bare_domain(value: str) -> str:
    """'https://www.Acme.com:443/about' -> 'acme.com'."""
    host = value.strip().lower().split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    host = host.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    return host.removeprefix("www.")


@router.get("/prospects", response_model=ProspectPage, summary="List or search the caller's prospects")
def list_prospects(session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                   q: Annotated[str | None, Query(max_length=200, description="name contains")] = None,
                   owner: Annotated[str | None, Query(max_length=320, description="owner's email")] = None,
                   stage: Annotated[str | None, Query(max_length=40)] = None,
                   cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 100) -> ProspectPage:
    if not viewer.all_prospects:
        if owner and not viewer.owns(owner):
            return ProspectPage(prospects=[], next_cursor=None)
        owner = viewer.user
    rows = repository.prospects_page(session, q=q, owner=owner, stage=stage, after=cursor, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return ProspectPage(prospects=[prospect_out(p, settings.public_url) for p in rows],
                        next_cursor=rows[-1].id if more and rows else None)


@router.get("/prospects/lookup", response_model=ProspectDetailOut,
            summary="Find a prospect by web domain (or any URL on it) or by name, with its intel summary")
def lookup_prospect(session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
                    domain: Annotated[str | None, Query(max_length=300, description="acme.com, or a URL")] = None,
                    name: Annotated[str | None, Query(max_length=300, description="name or alias")] = None,
                    ) -> ProspectDetailOut:
    prospect = None
    if domain and bare_domain(domain):
        prospect = feeds.prospect_by_domain(session, bare_domain(domain))
    elif name and name.strip():
        prospect = feeds.prospect_by_name(session, name)
    else:  # an empty question matches nothing; say how to ask
        raise HTTPException(404, "Give domain= (e.g. acme.com) or name= (e.g. Acme Corporation).")
    if prospect is None or not viewer.may_see_prospect(prospect.owners):
        raise not_found()
    return prospect_detail(session, prospect, viewer, settings.public_url)


@router.get("/prospects/{prospect_id}", response_model=ProspectDetailOut,
            summary="One prospect with its intel summary: signal counts, latest signals, people, heat")
def get_prospect(prospect_id: str, session: SessionDep, settings: SettingsDep,
                 viewer: ViewerDep) -> ProspectDetailOut:
    return prospect_detail(session, visible_prospect(session, prospect_id, viewer), viewer, settings.public_url)


@router.get("/prospects/{prospect_id}/items", response_model=ItemPage, summary="Items about one prospect")
def prospect_items(prospect_id: str, session: SessionDep, viewer: ViewerDep,
                   signal: Annotated[list[str] | None, Query()] = None,
                   min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
                   source: Annotated[list[str] | None, Query()] = None,
                   since: Annotated[IsoDateTime | None, Query(description="ISO 8601")] = None,
                   q: Annotated[str | None, Query(max_length=200)] = None,
                   cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN, description="next_cursor of the previous page")] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50) -> ItemPage:
    prospect = visible_prospect(session, prospect_id, viewer)
    filters = parse_filters(signal, min_score, None, source, since, q)
    return item_page(session, viewer, [prospect.id], filters, limit, cursor)

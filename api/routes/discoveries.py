"""GET /api/v1/discoveries: organizations that are not prospects yet but keep making news."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.access import ViewerDep, not_found
from api.deps import SessionDep
from api.problems import PROBLEM_RESPONSES
from models.discoveries import lead_suggestions

router = APIRouter(prefix="/api/v1", tags=["discoveries"], responses=PROBLEM_RESPONSES)


class ExampleItemOut(BaseModel):
    item_id: int
    title: str
    url: str | None
    seen_at: datetime


class DiscoveryOut(BaseModel):
    name: str
    key: str
    items: int
    items_with_signals: int
    signals: dict[str, int]
    first_seen_at: datetime
    last_seen_at: datetime
    examples: list[ExampleItemOut]


class DiscoveryPage(BaseModel):
    discoveries: list[DiscoveryOut]
    note: str = ("Organizations found by the statistical model (tagging.model) in stored items that match "
                 "no prospect; empty while no model is configured.")


@router.get("/discoveries", response_model=DiscoveryPage,
            summary="Lead suggestions: organizations seen repeatedly with strong signals")
def discoveries(session: SessionDep, viewer: ViewerDep,
                min_items: Annotated[int, Query(ge=1, le=1000, description="seen in at least this many items")] = 3,
                min_signal_items: Annotated[int, Query(ge=0, le=1000,
                                                       description="... this many of them with signals")] = 1,
                signal: Annotated[list[str] | None, Query(description="only with these signal types")] = None,
                since: Annotated[datetime | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 50) -> DiscoveryPage:
    if not viewer.all_prospects:  # suggestions are about the whole market, not one rep's accounts
        raise not_found()
    found = lead_suggestions(session, min_items=min_items, min_signal_items=min_signal_items, since=since,
                             signal=tuple(signal or ()), limit=limit, visibilities=viewer.visibilities)
    return DiscoveryPage(discoveries=[
        DiscoveryOut(name=d.name, key=d.key, items=d.items, items_with_signals=d.items_with_signals,
                     signals=d.signals, first_seen_at=d.first_seen_at, last_seen_at=d.last_seen_at,
                     examples=[ExampleItemOut(item_id=e.item_id, title=e.title, url=e.url, seen_at=e.seen_at)
                               for e in d.examples]) for d in found])

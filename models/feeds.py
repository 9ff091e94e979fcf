"""Queries behind feeds and the JSON API: whose prospects, which items, what happened lately.

Every item query takes the caller's visibilities (in `FeedFilters`), so an
internal item can only come back to a caller that asked for internal ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Sequence

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from models.repository import _escape_like, _filtered, _page
from models.tables import Item, Mention, Prospect, Signal
from models.values import Cursor, FeedFilters

_ACTIVITY_ROWS = 5000  # a summary looks at the newest rows only; enough for any real prospect


@dataclass(frozen=True)
class MentionSeen:
    item_id: int
    at: datetime
    score: float
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class SignalSeen:
    type: str
    score: float
    role: str | None
    at: datetime
    item_id: int
    title: str
    url: str | None
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class ProspectActivity:
    """A prospect's mentions and signals since some time, newest first."""

    mentions: tuple[MentionSeen, ...]
    signals: tuple[SignalSeen, ...]


def owned_prospects(session: Session, user: str) -> list[Prospect]:
    """Active prospects whose `owner` list holds `user` (case-insensitive)."""
    wanted = user.strip().lower()
    # owners is a JSON list; the LIKE narrows the rows portably, Python decides exactly.
    candidates = session.scalars(select(Prospect).where(
        Prospect.archived_at.is_(None),
        func.lower(cast(Prospect.owners, String)).like(f"%{_escape_like(wanted)}%", escape="\\"),
    ).order_by(Prospect.id))
    return [p for p in candidates if wanted in (o.strip().lower() for o in p.owners)]


def prospects_by_ids(session: Session, ids: Sequence[str]) -> list[Prospect]:
    if not ids:
        return []
    return list(session.scalars(select(Prospect).where(Prospect.id.in_(list(ids)),
                                                       Prospect.archived_at.is_(None)).order_by(Prospect.id)))


def prospect_by_domain(session: Session, domain: str) -> Prospect | None:
    """The prospect owning `domain` or the nearest parent domain (news.acme.com -> acme.com)."""
    labels = domain.split(".")
    for start in range(len(labels) - 1):
        candidate = ".".join(labels[start:])
        rows = session.scalars(select(Prospect).where(
            Prospect.archived_at.is_(None),
            func.lower(cast(Prospect.domains, String)).like(f'%"{_escape_like(candidate)}"%', escape="\\"),
        ).order_by(Prospect.id))
        for prospect in rows:
            if candidate in (d.lower() for d in prospect.domains):
                return prospect
    return None


def prospect_by_name(session: Session, name: str) -> Prospect | None:
    """The prospect whose name or one of whose aliases is `name`, ignoring case."""
    wanted = name.strip().lower()
    exact = session.scalar(select(Prospect).where(Prospect.archived_at.is_(None),
                                                  func.lower(Prospect.name) == wanted).order_by(Prospect.id))
    if exact is not None:
        return exact
    rows = session.scalars(select(Prospect).where(
        Prospect.archived_at.is_(None),
        func.lower(cast(Prospect.aliases, String)).like(f"%{_escape_like(wanted)}%", escape="\\"),
    ).order_by(Prospect.id))
    return next((p for p in rows if wanted in (a.lower() for a in p.aliases)), None)


def scoped_items(session: Session, prospect_ids: Sequence[str] | None, filters: FeedFilters, *,
                 limit: int, cursor: Cursor | None = None) -> list[Item]:
    """Items about active prospects in scope (`None`: every prospect), newest first.

    `min_score` and `stage` apply to the same mention, so a bundle filtered by
    stage shows items about the user's prospects in that stage, not items that
    merely also mention someone else's.
    """
    if prospect_ids is not None and len(prospect_ids) == 1:
        return _one_prospect_page(session, prospect_ids[0], filters, limit=limit, cursor=cursor)
    matching = (select(Mention.item_id).join(Prospect, Prospect.id == Mention.prospect_id)
                .where(Prospect.archived_at.is_(None)))
    if prospect_ids is not None:
        if not prospect_ids:
            return []
        matching = matching.where(Mention.prospect_id.in_(list(prospect_ids)))
    if filters.min_score is not None:
        matching = matching.where(Mention.score >= filters.min_score)
    if filters.stage:
        matching = matching.where(Prospect.stage.in_(filters.stage))
    query = select(Item).where(Item.id.in_(matching))
    return _page(session, _filtered(query, replace(filters, stage=())), limit, cursor)


def _one_prospect_page(session: Session, prospect_id: str, filters: FeedFilters, *, limit: int,
                       cursor: Cursor | None) -> list[Item]:
    """One prospect's feed read straight off its mentions index (prospect_id, sort_at), newest first.

    A busy prospect has tens of thousands of items; sorting them all for each page
    is what made its feed slow. Walking the index stops after `limit` rows instead.
    `Mention.sort_at` is the item's `sort_at`, copied when the mention is stored.
    """
    query = (select(Item).join(Mention, Mention.item_id == Item.id).join(Prospect, Prospect.id == Mention.prospect_id)
             .where(Mention.prospect_id == prospect_id, Prospect.archived_at.is_(None)))
    if filters.min_score is not None:
        query = query.where(Mention.score >= filters.min_score)
    if filters.stage:
        query = query.where(Prospect.stage.in_(filters.stage))
    query = _filtered(query, replace(filters, stage=()))
    if cursor is not None:
        query = query.where(or_(Mention.sort_at < cursor.sort_at,
                                (Mention.sort_at == cursor.sort_at) & (Mention.item_id < cursor.item_id)))
    return list(session.scalars(query.order_by(Mention.sort_at.desc(), Mention.item_id.desc()).limit(limit)))


def prospect_activity(session: Session, prospect_id: str, *, since: datetime,
                      visibilities: Sequence[str]) -> ProspectActivity:
    """Mentions of the prospect and signals in those items since `since`, visible ones only."""
    mention_rows = session.execute(
        select(Mention.item_id, Item.sort_at, Mention.score, Mention.evidence)
        .join(Item, Item.id == Mention.item_id)
        .where(Mention.prospect_id == prospect_id, Item.sort_at >= since,
               Item.visibility.in_(list(visibilities)))
        .order_by(Item.sort_at.desc(), Item.id.desc()).limit(_ACTIVITY_ROWS)).all()
    mentions = tuple(MentionSeen(item_id=r[0], at=r[1], score=r[2], evidence=tuple(r[3] or ()))
                     for r in mention_rows)
    item_ids = [m.item_id for m in mentions]
    signals: list[SignalSeen] = []
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start:start + 500]
        rows = session.execute(
            select(Signal.type, Signal.score, Signal.role, Item.sort_at, Item.id, Item.title, Item.url,
                   Signal.evidence)
            .join(Item, Item.id == Signal.item_id)
            .where(Signal.item_id.in_(chunk),
                   or_(Signal.prospect_id.is_(None), Signal.prospect_id == prospect_id))).all()
        signals.extend(SignalSeen(type=r[0], score=r[1], role=r[2], at=r[3], item_id=r[4], title=r[5],
                                  url=r[6], evidence=tuple(r[7] or ())) for r in rows)
    signals.sort(key=lambda s: (s.at, s.item_id), reverse=True)
    return ProspectActivity(mentions=mentions, signals=tuple(signals))


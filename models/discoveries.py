"""Lead discovery: organizations that are not prospects but keep appearing with strong signals.

The pipeline records the organizations a statistical model found in each
item (`record_organizations`); `lead_suggestions` ranks them for
`/api/v1/discoveries` and `intel discoveries`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping, Sequence

from cleanco import basename
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.tables import Item, OrganizationSeen, Prospect

_EXAMPLES = 3


@dataclass(frozen=True)
class OrganizationsFound:
    """What one stored item says about organizations that are not prospects."""

    names: tuple[str, ...]
    signal_types: tuple[str, ...]  # the item's signals strong enough to count


@dataclass(frozen=True)
class ExampleItem:
    item_id: int
    title: str
    url: str | None
    seen_at: datetime


@dataclass(frozen=True)
class LeadSuggestion:
    name: str
    key: str
    items: int
    items_with_signals: int
    signals: dict[str, int]
    first_seen_at: datetime
    last_seen_at: datetime
    examples: tuple[ExampleItem, ...]


def org_key(name: str) -> str:
    """'Harbourline Insurance Ltd.' and 'Harbourline' -> 'harbourline': one organization, one key."""
    base = basename(name).strip() or name.strip()
    ascii_text = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", ascii_text.lower()).strip()[:200]


def record_organizations(session: Session, source_id: str, found: Mapping[str, OrganizationsFound], *,
                         now: datetime) -> int:
    """Store the organizations of this run's items (by dedup key); returns rows written."""
    wanted = {key: value for key, value in found.items() if value.names}
    if not wanted:
        return 0
    session.flush()
    written = 0
    rows = session.execute(select(Item.id, Item.dedup_key).where(Item.source_id == source_id,
                                                                 Item.dedup_key.in_(list(wanted))))
    for item_id, dedup_key in rows:
        value = wanted[dedup_key]
        existing = {o.org_key: o for o in session.scalars(
            select(OrganizationSeen).where(OrganizationSeen.item_id == item_id))}
        for name in value.names:
            key = org_key(name)
            if not key:
                continue
            row = existing.get(key)
            if row is None:
                row = OrganizationSeen(item_id=item_id, org_key=key, name=name[:300], seen_at=now)
                session.add(row)
                existing[key] = row
                written += 1
            row.signal_types = sorted(set(value.signal_types))
    return written


def lead_suggestions(session: Session, *, min_items: int = 3, min_signal_items: int = 1,
                     since: datetime | None = None, signal: Sequence[str] = (), limit: int = 50,
                     visibilities: Iterable[str] = ("external",)) -> list[LeadSuggestion]:
    """Organizations seen in at least `min_items` items, `min_signal_items` of them with signals."""
    query = (select(OrganizationSeen.org_key, func.count(OrganizationSeen.item_id))
             .join(Item, Item.id == OrganizationSeen.item_id)
             .where(Item.visibility.in_(list(visibilities))))
    if since is not None:
        query = query.where(OrganizationSeen.seen_at >= since)
    counts = session.execute(query.group_by(OrganizationSeen.org_key)
                             .having(func.count(OrganizationSeen.item_id) >= min_items)).all()
    known = _prospect_keys(session)
    suggestions = []
    for key, _ in counts:
        if key in known:
            continue
        suggestion = _suggestion(session, key, since, signal, visibilities)
        if suggestion is not None and suggestion.items_with_signals >= min_signal_items:
            suggestions.append(suggestion)
    suggestions.sort(key=lambda s: (-s.items_with_signals, -s.items, s.name))
    return suggestions[:limit]


def _suggestion(session: Session, key: str, since: datetime | None, signal: Sequence[str],
                visibilities: Iterable[str]) -> LeadSuggestion | None:
    query = (select(OrganizationSeen, Item.title, Item.url)
             .join(Item, Item.id == OrganizationSeen.item_id)
             .where(OrganizationSeen.org_key == key, Item.visibility.in_(list(visibilities)))
             .order_by(OrganizationSeen.seen_at.desc(), OrganizationSeen.item_id.desc()))
    if since is not None:
        query = query.where(OrganizationSeen.seen_at >= since)
    rows = session.execute(query).all()
    if not rows:
        return None
    signals = Counter(t for seen, _, _ in rows for t in seen.signal_types)
    if signal and not any(signals.get(s) for s in signal):
        return None
    names = Counter(seen.name for seen, _, _ in rows)
    with_signals = [(seen, title, url) for seen, title, url in rows if seen.signal_types]
    examples = tuple(ExampleItem(seen.item_id, title, url, seen.seen_at)
                     for seen, title, url in (with_signals or rows)[:_EXAMPLES])
    return LeadSuggestion(name=names.most_common(1)[0][0], key=key, items=len(rows),
                          items_with_signals=len(with_signals), signals=dict(signals.most_common()),
                          first_seen_at=min(seen.seen_at for seen, _, _ in rows),
                          last_seen_at=max(seen.seen_at for seen, _, _ in rows), examples=examples)


def _prospect_keys(session: Session) -> set[str]:
    """Every name and alias of an active prospect: those are customers-to-be already."""
    keys = set()
    for name, aliases in session.execute(select(Prospect.name, Prospect.aliases)
                                         .where(Prospect.archived_at.is_(None))):
        for form in [name, *(aliases or [])]:
            keys.add(org_key(form))
    return keys

"""Which stored item an entry with an unreliable GUID already is (feeds whose GUIDs rotate)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.tables import Item

_IN_CHUNK = 500


def keys_by_link(session: Session, source_id: str, urls: Sequence[str]) -> dict[str, str]:
    """For each link stored on exactly one item of the source, that item's key.

    A link shared by several stored items identifies none of them (feeds whose
    every entry links to the home page), so it is left out.
    """
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(urls))
    for start in range(0, len(unique), _IN_CHUNK):
        chunk = unique[start:start + _IN_CHUNK]
        rows = session.execute(
            select(Item.url, func.min(Item.dedup_key)).where(Item.source_id == source_id, Item.url.in_(chunk))
            .group_by(Item.url).having(func.count() == 1))
        found.update((url, key) for url, key in rows)
    return found


def keys_by_title_and_date(session: Session, source_id: str,
                           pairs: Sequence[tuple[str, datetime | None]]) -> dict[tuple[str, datetime | None], str]:
    """The same, for link-less entries: the one stored item with that title and date."""
    found: dict[tuple[str, datetime | None], str] = {}
    titles = list(dict.fromkeys(title for title, _ in pairs))
    wanted = set(pairs)
    for start in range(0, len(titles), _IN_CHUNK):
        chunk = titles[start:start + _IN_CHUNK]
        rows = session.execute(
            select(Item.title, Item.published_at, func.min(Item.dedup_key))
            .where(Item.source_id == source_id, Item.url.is_(None), Item.title.in_(chunk))
            .group_by(Item.title, Item.published_at).having(func.count() == 1))
        for title, published, key in rows:
            if published is not None and published.tzinfo is None:  # SQLite gives naive UTC back
                published = published.replace(tzinfo=timezone.utc)
            if (title, published) in wanted:
                found[(title, published)] = key
    return found


def stored_keys(session: Session, source_id: str, keys: Sequence[str]) -> set[str]:
    """Which of these keys the source already has (an indexed lookup: source_id, dedup_key)."""
    found: set[str] = set()
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = list(keys[start:start + _IN_CHUNK])
        found.update(session.scalars(select(Item.dedup_key).where(Item.source_id == source_id,
                                                                  Item.dedup_key.in_(chunk))))
    return found

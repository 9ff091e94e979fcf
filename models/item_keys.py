"""Which stored item an entry with an unreliable GUID already is (feeds whose GUIDs rotate).

Lookups a run makes before its write transaction, sent straight to the driver
(models.bulk.select_in): built as ORM queries they cost 40-90 µs per item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy.orm import Session

from models.bulk import select_in
from models.tables import Item


def keys_by_link(session: Session, source_id: str, urls: Sequence[str]) -> dict[str, str]:
    """For each link stored on exactly one item of the source, that item's key.

    A link shared by several stored items identifies none of them (feeds whose
    every entry links to the home page), so it is left out.
    """
    return dict(select_in(session, "SELECT url, min(dedup_key) FROM items WHERE source_id = ? AND url IN ({in}) "
                                   "GROUP BY url HAVING count(*) = 1", (source_id,), urls))


def keys_by_title_and_date(session: Session, source_id: str,
                           pairs: Sequence[tuple[str, datetime | None]]) -> dict[tuple[str, datetime | None], str]:
    """The same, for link-less entries: the one stored item with that title and date."""
    wanted = set(pairs)
    rows = select_in(session, "SELECT title, published_at, min(dedup_key) FROM items "
                              "WHERE source_id = ? AND url IS NULL AND title IN ({in}) "
                              "GROUP BY title, published_at HAVING count(*) = 1",
                     (source_id,), [title for title, _ in pairs],
                     result_types={1: Item.__table__.c.published_at.type})  # aware UTC, as stored
    return {(title, published): key for title, published, key in rows if (title, published) in wanted}


def stored_keys(session: Session, source_id: str, keys: Sequence[str]) -> set[str]:
    """Which of these keys the source already has (an indexed lookup: source_id, dedup_key)."""
    return {key for key, in select_in(session, "SELECT dedup_key FROM items WHERE source_id = ? "
                                               "AND dedup_key IN ({in})", (source_id,), keys)}

"""Stories: near-duplicate items from several sources clustered into one (queries only).

The pipeline fingerprints items (intel/stories.py) and calls `assign_stories`
in the same transaction that stores them. Feeds then show one entry per story:
its lead item (the first seen), which carries the union of the prospects its
copies mention, says who else reported it, and gets a new `updated` time each
time another source joins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy import exists, func, insert, or_, select
from sqlalchemy.orm import Session, lazyload

from models.tables import Item, Mention, Story, StoryBand

URL_BAND = -1  # the band that holds the canonical link: the same link is the same story outright
_CANDIDATES = 5


@dataclass(frozen=True)
class StoryPrint:
    signature: tuple[int, ...]
    bands: tuple[tuple[int, str], ...]
    has_link: bool = False


def assign_stories(session: Session, source_id: str, prints: Mapping[str, StoryPrint], *, now: datetime,
                   window: timedelta, threshold: float) -> int:
    """Put each new item of this run (by dedup key) into an existing story or a new one.

    Returns how many items joined a story that another item started.
    """
    if not prints:
        return 0
    session.flush()
    rows = session.scalars(select(Item).where(Item.source_id == source_id, Item.story_id.is_(None),
                                              Item.dedup_key.in_(list(prints))))
    joined = 0
    # New stories and their bands go in through Core (no ORM bookkeeping for 33 rows a story) and the
    # items' story ids are flushed once at the end: per item, one indexed candidate lookup and one insert.
    with session.no_autoflush:
        for item in sorted(rows, key=lambda r: r.id):
            fingerprint = prints[item.dedup_key]
            story = _matching_story(session, fingerprint, now - window, threshold)
            if story is None:
                story_id = session.scalar(insert(Story.__table__).returning(Story.__table__.c.id).values(
                    lead_item_id=item.id, signature=list(fingerprint.signature), item_count=1, source_count=1,
                    first_seen_at=now, updated_at=now))
                session.execute(insert(StoryBand.__table__), [
                    {"band": band, "hash": digest, "story_id": story_id}
                    for band, digest in dict(fingerprint.bands).items()])
                item.story_id = story_id
            else:
                session.flush()  # _join counts the story's sources: earlier items of this run included
                _join(session, story, item, now)
                joined += 1
                item.story_id = story.id
    session.flush()
    return joined


def _matching_story(session: Session, fingerprint: StoryPrint, since: datetime, threshold: float) -> Story | None:
    hashes = [digest for _, digest in fingerprint.bands]
    shared = func.count(StoryBand.band)
    candidates = session.execute(
        select(StoryBand.story_id, shared, func.min(StoryBand.band))
        .join(Story, Story.id == StoryBand.story_id)
        .where(StoryBand.hash.in_(hashes), Story.updated_at >= since)
        .group_by(StoryBand.story_id).order_by(shared.desc()).limit(_CANDIDATES)).all()
    if not candidates:
        return None
    # Only the signatures are compared; a Story entity would selectin-load every member item,
    # which made a feed of thousands of look-alike entries quadratic.
    signatures = dict(session.execute(select(Story.id, Story.signature)
                                      .where(Story.id.in_([c[0] for c in candidates]))).all())
    for story_id, _, lowest_band in candidates:
        if story_id not in signatures:
            continue
        if lowest_band == URL_BAND or similarity(fingerprint.signature, signatures[story_id]) >= threshold:
            # URL_BAND: only this item's own hashes were looked up, so its link matched outright.
            return session.get(Story, story_id, options=[lazyload(Story.items)])
    return None


def similarity(a, b) -> float:
    """Estimated Jaccard similarity of two MinHash signatures of the same length."""
    if not a or len(a) != len(b):
        return 0.0
    return sum(x == y for x, y in zip(a, b)) / len(a)


def _join(session: Session, story: Story, item: Item, now: datetime) -> None:
    # One indexed lookup, not the story's whole membership (stories can hold thousands of copies).
    source_already_in = session.scalar(select(exists().where(Item.story_id == story.id,
                                                             Item.source_id == item.source_id)))
    story.item_count += 1
    lead = session.get(Item, story.lead_item_id) if story.lead_item_id else None
    if not source_already_in:
        story.source_count += 1
        story.updated_at = now
        if lead is not None:
            lead.updated_at = now  # feed readers see the entry change: "also reported by" grew
    if lead is not None:
        _merge_mentions(session, lead, item)


def _merge_mentions(session: Session, lead: Item, item: Item) -> None:
    """The lead entry stands for the story: a prospect only a copy names still finds it."""
    have = {m.prospect_id for m in lead.mentions}
    for mention in item.mentions:
        if mention.prospect_id not in have:
            session.add(Mention(item_id=lead.id, prospect_id=mention.prospect_id, score=mention.score,
                                evidence=[f"copy: as reported by {item.source_id}"] + list(mention.evidence),
                                sort_at=lead.sort_at))
            have.add(mention.prospect_id)


def one_entry_per_story(query):
    """Restrict an item query to story leads and items in no story (feeds show a story once)."""
    lead_or_orphan = exists().where(Story.id == Item.story_id,
                                    or_(Story.lead_item_id == Item.id, Story.lead_item_id.is_(None)))
    return query.where(or_(Item.story_id.is_(None), lead_or_orphan))


def also_reported_by(item: Item) -> list[str]:
    """Names of the other sources that carried this item's story, first reporter first."""
    story = item.story
    if story is None:
        return []
    names: list[str] = []
    for other in story.items:
        if other.source_id == item.source_id:
            continue
        name = (other.source.title if other.source is not None else None) or other.source_id
        if name not in names:
            names.append(name)
    return names


def story_members(session: Session, story_id: int) -> list[Item]:
    return list(session.scalars(select(Item).where(Item.story_id == story_id).order_by(Item.id)))

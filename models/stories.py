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

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from models.tables import Item, Mention, Story, StoryBand

URL_BAND = -1  # the band that holds the canonical link: the same link is the same story outright
_CANDIDATES = 5
_IN_CHUNK = 500


@dataclass(frozen=True)
class StoryPrint:
    signature: tuple[int, ...]
    bands: tuple[tuple[int, str], ...]
    has_link: bool = False


def assign_stories(session: Session, source_id: str, prints: Mapping[str, StoryPrint], *, now: datetime,
                   window: timedelta, threshold: float) -> int:
    """Put each new item of this run (by dedup key) into an existing story or a new one.

    A handful of queries per run, not per item: every band of every new item is
    looked up at once, candidates are judged in memory, and stories the run
    itself starts are candidates for its later items. Returns how many items
    joined a story that another item started.
    """
    if not prints:
        return 0
    session.flush()
    rows: list[Item] = []
    keys = list(prints)
    for start in range(0, len(keys), _IN_CHUNK):
        rows.extend(session.scalars(select(Item).where(
            Item.source_id == source_id, Item.story_id.is_(None), Item.dedup_key.in_(keys[start:start + _IN_CHUNK]))))
    if not rows:
        return 0
    rows.sort(key=lambda r: r.id)
    hashes = {digest for row in rows for _, digest in prints[row.dedup_key].bands}
    by_hash, signatures, sources = _known_stories(session, hashes, now - window)
    started: list[tuple[Story, StoryPrint]] = []
    joined = 0
    for item in rows:
        fingerprint = prints[item.dedup_key]
        match = _best_match(fingerprint, by_hash, signatures)
        if match is None or similarity_or_link(fingerprint, match, by_hash, signatures) < threshold:
            story = Story(lead_item_id=item.id, signature=list(fingerprint.signature), item_count=1,
                          source_count=1, first_seen_at=now, updated_at=now)
            session.add(story)
            started.append((story, fingerprint))
            signatures[story] = fingerprint.signature  # later items of this run may join it
            sources[story] = {item.source_id}
            for _, digest in fingerprint.bands:
                by_hash.setdefault(digest, set()).add(story)
            item.story = story
            continue
        story = match if isinstance(match, Story) else session.get(Story, match)
        _join(session, story, item, now, sources.setdefault(match, set()))
        item.story = story
        joined += 1
    session.flush()
    session.add_all(StoryBand(band=band, hash=digest, story_id=story.id)
                    for story, fingerprint in started for band, digest in dict(fingerprint.bands).items())
    session.flush()
    return joined


def _known_stories(session: Session, hashes: set[str], since: datetime):
    """Stories in the window sharing any of `hashes`: hash -> story ids, their signatures and sources."""
    by_hash: dict[str, set] = {}
    wanted = list(hashes)
    for start in range(0, len(wanted), _IN_CHUNK):
        for story_id, digest in session.execute(
                select(StoryBand.story_id, StoryBand.hash).join(Story, Story.id == StoryBand.story_id)
                .where(StoryBand.hash.in_(wanted[start:start + _IN_CHUNK]), Story.updated_at >= since)):
            by_hash.setdefault(digest, set()).add(story_id)
    ids = list({i for found in by_hash.values() for i in found})
    signatures: dict[object, tuple] = {}
    sources: dict[object, set[str]] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start:start + _IN_CHUNK]
        for story_id, signature in session.execute(select(Story.id, Story.signature).where(Story.id.in_(chunk))):
            signatures[story_id] = tuple(signature or ())
        for story_id, member_source in session.execute(
                select(Item.story_id, Item.source_id).where(Item.story_id.in_(chunk)).distinct()):
            sources.setdefault(story_id, set()).add(member_source)
    return by_hash, signatures, sources


def _best_match(fingerprint: StoryPrint, by_hash, signatures):
    """The candidate story most like this fingerprint (a shared link wins outright), or None."""
    shared: dict[object, int] = {}
    for band, digest in fingerprint.bands:
        for story in by_hash.get(digest, ()):
            if band == URL_BAND:
                return story
            shared[story] = shared.get(story, 0) + 1
    ranked = sorted(shared, key=lambda s: -shared[s])[:_CANDIDATES]
    return max(ranked, key=lambda s: similarity(fingerprint.signature, signatures.get(s, ())), default=None)


def similarity_or_link(fingerprint: StoryPrint, story, by_hash, signatures) -> float:
    """1.0 when the canonical links agree, else the estimated Jaccard similarity."""
    if any(band == URL_BAND and story in by_hash.get(digest, ()) for band, digest in fingerprint.bands):
        return 1.0
    return similarity(fingerprint.signature, signatures.get(story, ()))


def similarity(a, b) -> float:
    """Estimated Jaccard similarity of two MinHash signatures of the same length."""
    if not a or len(a) != len(b):
        return 0.0
    return sum(x == y for x, y in zip(a, b)) / len(a)


def _join(session: Session, story: Story, item: Item, now: datetime, sources: set[str]) -> None:
    story.item_count += 1
    lead = session.get(Item, story.lead_item_id) if story.lead_item_id else None
    if item.source_id not in sources:
        sources.add(item.source_id)
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

"""Retention: forget items (with their mentions, signals and emptied stories) and run history past an age.

Deletes go in bounded batches, each its own short transaction when the caller
commits per batch, so pruning a year of backlog never holds one huge lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from models.story_index import stories_changed
from models.tables import Item, Mention, Signal, SourceRun, Story, StoryBand


@dataclass(frozen=True)
class Pruned:
    items: int = 0
    mentions: int = 0
    signals: int = 0
    runs: int = 0

    def __add__(self, other: "Pruned") -> "Pruned":
        return Pruned(self.items + other.items, self.mentions + other.mentions,
                      self.signals + other.signals, self.runs + other.runs)


def prune_items_batch(session: Session, cutoff: datetime, *, batch: int = 2000) -> Pruned:
    """Delete up to `batch` items older than `cutoff`, their mentions and their signals.

    "Older" means both dated and first seen before the cutoff: an old article a
    feed still carries was seen recently, and pruning it would only make the next
    fetch store it again as new.
    """
    rows = session.execute(select(Item.id, Item.story_id).where(Item.sort_at < cutoff, Item.first_seen_at < cutoff)
                           .order_by(Item.sort_at).limit(batch)).all()
    if not rows:
        return Pruned()
    ids = [item_id for item_id, _ in rows]
    stories = {story_id for _, story_id in rows if story_id is not None}
    # Children first and explicitly: counted, and correct even where foreign keys are not enforced.
    mentions = session.execute(delete(Mention).where(Mention.item_id.in_(ids))).rowcount
    signals = session.execute(delete(Signal).where(Signal.item_id.in_(ids))).rowcount
    items = session.execute(delete(Item).where(Item.id.in_(ids))).rowcount
    _settle_stories(session, stories)
    return Pruned(items=items, mentions=mentions, signals=signals)


def _settle_stories(session: Session, story_ids: set[int]) -> None:
    """A story whose lead was pruned is led by its oldest remaining copy; one with no copy left goes."""
    if not story_ids:
        return
    ids = list(story_ids)
    oldest_copy = select(func.min(Item.id)).where(Item.story_id == Story.id).scalar_subquery()
    session.execute(update(Story).where(Story.id.in_(ids)).values(lead_item_id=oldest_copy)
                    .execution_options(synchronize_session=False))
    empty = select(Story.id).where(Story.id.in_(ids), Story.lead_item_id.is_(None))
    session.execute(delete(StoryBand).where(StoryBand.story_id.in_(empty)))
    session.execute(delete(Story).where(Story.id.in_(ids), Story.lead_item_id.is_(None)))
    stories_changed(session, ids)  # workers hold the newest stories' leads in memory


def prune_runs_batch(session: Session, cutoff: datetime, *, batch: int = 5000) -> Pruned:
    """Delete up to `batch` source runs finished before `cutoff`, keeping each source's latest run
    (the health table shows it)."""
    latest = select(func.max(SourceRun.id)).group_by(SourceRun.source_id)
    ids = list(session.scalars(select(SourceRun.id).where(SourceRun.finished_at < cutoff,
                                                          SourceRun.id.not_in(latest))
                               .order_by(SourceRun.id).limit(batch)))
    if not ids:
        return Pruned()
    return Pruned(runs=session.execute(delete(SourceRun).where(SourceRun.id.in_(ids))).rowcount)

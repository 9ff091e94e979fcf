"""What the pipeline adds once a run's items are stored: stories and organizations for lead discovery.

Runs inside the run's transaction, so a run's clusters land with its items or not at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Mapping, Sequence

from sqlalchemy.orm import Session

from connectors.base import RawItem
from intel.settings import Config
from intel.stories import story_prints
from intel.tagging import TagResult
from models.discoveries import OrganizationsFound, record_organizations
from models.repository import StoredRun
from models.stories import StoryPrint, assign_stories, serialize_story_assignment


def fingerprints(keyed: Sequence[tuple[str, RawItem]], keys: set[str] | None = None) -> dict[str, StoryPrint]:
    """Story fingerprints of the items whose keys are in `keys` (all when None), computed together.

    The pipeline computes them before its write transaction, for the items not stored yet:
    CPU work done outside the transaction does not hold up other runs' writes.
    """
    chosen = [(key, item) for key, item in keyed if keys is None or key in keys]
    prints = story_prints([(item.title, item.summary, item.url) for _, item in chosen])
    return {key: fingerprint for (key, _), fingerprint in zip(chosen, prints)}


def enrich_run(session: Session, source_id: str, keyed: Sequence[tuple[str, RawItem]],
               tags: Sequence[TagResult], *, stored: StoredRun, prints: Mapping[str, StoryPrint],
               now: datetime, config: Config) -> None:
    """Cluster the run's unclustered items into stories and record the organizations they name.

    `prints` may lack some unclustered items (stored by a run that skipped stories): computed here.
    """
    tagging = config.tagging
    missing = set(stored.unclustered) - set(prints)
    if missing:
        prints = {**prints, **fingerprints(keyed, missing)}
    if stored.unclustered:  # held already when the run brought new items; taking it again is free
        serialize_story_assignment(session)
    assign_stories(session, source_id, {item_id: prints[key] for key, item_id in stored.unclustered.items()},
                   now=now, window=timedelta(seconds=tagging.story_window), threshold=tagging.story_similarity)
    found = {}
    for (key, _), tag in zip(keyed, tags):
        if tag.organizations:
            strong = tuple(sorted({s.type for s in tag.signals if s.score >= tagging.discovery_signal_score}))
            found[key] = OrganizationsFound(tag.organizations, strong)
    record_organizations(session, source_id, found, now=now)

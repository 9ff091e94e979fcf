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


STORY_SLICE = 2000


def fingerprints(keyed: Sequence[tuple[str, RawItem]], keys: set[str] | None = None) -> dict[str, StoryPrint]:
    """Story fingerprints of the items whose keys are in `keys` (all when None), computed together.

    The pipeline computes them before its write transaction, for the items not stored yet:
    CPU work done outside the transaction does not hold up other runs' writes. Bigger runs
    get theirs slice by slice in `enrich_run` (a fingerprint is a few kB).
    """
    if keys is not None and not keys:
        return {}
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
    if stored.unclustered:  # held already when the run brought new items; taking it again is free
        serialize_story_assignment(session)
    # A big run (a 20,000-entry feed) is clustered in slices: each slice finds the stories the
    # slices before it started in the database, so memory stays that of one slice.
    unclustered = sorted(stored.unclustered.items(), key=lambda pair: pair[1])
    for start in range(0, len(unclustered), STORY_SLICE):
        chunk = dict(unclustered[start:start + STORY_SLICE])
        missing = set(chunk) - set(prints)
        chunk_prints = {**{key: prints[key] for key in set(chunk) - missing}, **fingerprints(keyed, missing)}
        assign_stories(session, source_id, {item_id: chunk_prints[key] for key, item_id in chunk.items()},
                       now=now, window=timedelta(seconds=tagging.story_window),
                       threshold=tagging.story_similarity, in_memory=tagging.stories_in_memory)
    found = {}
    for (key, _), tag in zip(keyed, tags):
        if tag.organizations:
            strong = tuple(sorted({s.type for s in tag.signals if s.score >= tagging.discovery_signal_score}))
            found[key] = OrganizationsFound(tag.organizations, strong)
    record_organizations(session, source_id, found, now=now)

"""What the pipeline adds once a run's items are stored: stories and organizations for lead discovery.

Runs inside the run's transaction, so a run's clusters land with its items or not at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy.orm import Session

from connectors.base import RawItem
from intel.settings import Config
from intel.stories import story_print
from intel.tagging import TagResult
from models.discoveries import OrganizationsFound, record_organizations
from models.stories import assign_stories


def enrich_run(session: Session, source_id: str, keyed: Sequence[tuple[str, RawItem]],
               tags: Sequence[TagResult], *, now: datetime, config: Config) -> None:
    tagging = config.tagging
    prints = {key: story_print(item.title, item.summary, item.url) for key, item in keyed}
    assign_stories(session, source_id, prints, now=now, window=timedelta(seconds=tagging.story_window),
                   threshold=tagging.story_similarity)
    found = {}
    for (key, _), tag in zip(keyed, tags):
        if tag.organizations:
            strong = tuple(sorted({s.type for s in tag.signals if s.score >= tagging.discovery_signal_score}))
            found[key] = OrganizationsFound(tag.organizations, strong)
    record_organizations(session, source_id, found, now=now)

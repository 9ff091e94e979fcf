"""Apply `retention.max_age`: prune old items and run history in short batches."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from intel.clock import utcnow
from intel.settings import RetentionConfig
from models.retention import Pruned, prune_items_batch, prune_runs_batch

log = logging.getLogger(__name__)


def prune_expired(sessions: sessionmaker[Session], policy: RetentionConfig,
                  now: datetime | None = None) -> Pruned:
    """Delete everything older than `policy.max_age` (nothing when it is unset)."""
    if policy.max_age is None:
        return Pruned()
    cutoff = (now or utcnow()) - timedelta(seconds=policy.max_age)
    total = Pruned()
    for prune in (prune_items_batch, prune_runs_batch):
        while True:  # one transaction per batch: feeds and fetches keep going meanwhile
            with sessions.begin() as session:
                pruned = prune(session, cutoff)
            total += pruned
            if pruned == Pruned():
                break
    if total != Pruned():
        log.info("retention: pruned %d items (%d mentions, %d signals) and %d runs older than %s",
                 total.items, total.mentions, total.signals, total.runs, cutoff.isoformat())
    return total

"""Lease upkeep for running sources (claiming is `repository.claim_due_sources`)."""

from __future__ import annotations

from datetime import datetime
from typing import Collection

from sqlalchemy import update
from sqlalchemy.orm import Session

from models.tables import Source


def renew_leases(session: Session, owner: str, source_ids: Collection[str], until: datetime) -> int:
    """Extend `owner`'s leases on `source_ids` to `until`; returns how many it still held.

    A worker renews while its runs are in flight, so a slow run keeps its source;
    a killed worker stops renewing and its leases run out for others to take.
    """
    if not source_ids:
        return 0
    result = session.execute(update(Source).where(Source.id.in_(list(source_ids)), Source.lease_owner == owner)
                             .values(lease_until=until))
    return result.rowcount

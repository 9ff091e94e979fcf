"""Queries the CRM import and prospect hints need."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.tables import Prospect


def active_prospect_origins(session: Session) -> dict[str, str]:
    """Prospect id -> where it came from ("config", "crm:<source>"), active prospects only."""
    return dict(session.execute(select(Prospect.id, Prospect.origin).where(Prospect.archived_at.is_(None))).all())


def prospect_names(session: Session) -> list[tuple[str, str, list[str]]]:
    """(id, name, aliases) of every active prospect: what a CRM note's account can be matched on."""
    return [(pid, name, list(aliases or [])) for pid, name, aliases in session.execute(
        select(Prospect.id, Prospect.name, Prospect.aliases).where(Prospect.archived_at.is_(None)))]

"""Queries the CRM import and prospect hints need.

`upsert_prospects` has `repository.sync_prospects`' meaning (upsert this
origin's records, archive its missing ones, never delete) but works in bulk
statements, because a CRM export can hold 100,000 accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from models.repository import PROSPECT_FIELDS
from models.tables import Prospect

_LIST_FIELDS = ("aliases", "domains", "tickers", "people", "keywords", "exclude", "owners")
_CHUNK = 1000


@dataclass(frozen=True)
class UpsertCounts:
    new: int
    updated: int
    unchanged: int
    archived: int


def active_prospect_origins(session: Session) -> dict[str, str]:
    """Prospect id -> where it came from ("config", "crm:<source>"), active prospects only."""
    return dict(session.execute(select(Prospect.id, Prospect.origin).where(Prospect.archived_at.is_(None))).all())


def prospect_names(session: Session) -> list[tuple[str, str, list[str]]]:
    """(id, name, aliases) of every active prospect: what a CRM note's account can be matched on."""
    return [(pid, name, list(aliases or [])) for pid, name, aliases in session.execute(
        select(Prospect.id, Prospect.name, Prospect.aliases).where(Prospect.archived_at.is_(None)))]


def upsert_prospects(session: Session, records: Sequence[Mapping[str, Any]], *, origin: str,
                     now: datetime) -> UpsertCounts:
    """Insert new records, update changed ones, archive `origin`'s records that are missing."""
    columns = ("id", "origin", "archived_at", *PROSPECT_FIELDS, "owners")
    existing = {row.id: row for row in session.execute(select(*(getattr(Prospect, c) for c in columns)))}
    inserts, updates, unchanged = [], [], 0
    seen = set()
    for record in records:
        values = {name: record.get(name) for name in PROSPECT_FIELDS}
        values["owners"] = list(record.get("owner") or record.get("owners") or [])
        for name in _LIST_FIELDS:
            values[name] = list(values[name] or [])
        seen.add(record["id"])
        row = existing.get(record["id"])
        if row is None:
            inserts.append({"id": record["id"], "origin": origin, "updated_at": now, "archived_at": None, **values})
        elif row.archived_at is not None or row.origin != origin or any(
                getattr(row, k) != v for k, v in values.items()):
            updates.append({"id": record["id"], "origin": origin, "updated_at": now, "archived_at": None, **values})
        else:
            unchanged += 1
    gone = [{"id": row.id, "archived_at": now, "updated_at": now} for row in existing.values()
            if row.origin == origin and row.id not in seen and row.archived_at is None]
    # Core executemany: the ORM's bulk mode splits batches wherever a row's NULLs differ.
    table = Prospect.__table__
    for start in range(0, len(inserts), _CHUNK):
        session.execute(insert(table), inserts[start:start + _CHUNK])
    for batch in (updates, gone):
        if not batch:
            continue
        statement = update(table).where(table.c.id == bindparam("key"))
        keyed = [{**{k: v for k, v in row.items() if k != "id"}, "key": row["id"]} for row in batch]
        for start in range(0, len(keyed), _CHUNK):
            session.execute(statement, keyed[start:start + _CHUNK])
    return UpsertCounts(len(inserts), len(updates), unchanged, len(gone))

"""CRM accounts into prospects: validated, upserted, the missing ones archived.

Prospects imported from source `S` have origin `crm:S`; an import only ever
archives its own origin's prospects that left the export (never deletes, so
their items and history stay) and never overwrites a prospect another origin
(config, another CRM) defines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from pydantic import ValidationError
from sqlalchemy.orm import Session

from connectors.base import AccountRow
from intel.prospects import slugify
from intel.settings import Config, ProspectRecord
from intel.templates import sync_sources_with_prospects
from models.crm import active_prospect_origins, upsert_prospects
from models.values import RunCounts


@dataclass
class AccountImport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def counts(self) -> RunCounts:
        return RunCounts(new=self.new, updated=self.updated, seen=self.unchanged)

    def summary(self) -> str:
        return (f"accounts: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.archived} archived")


def account_records(accounts: Sequence[AccountRow], origin: str, origins: dict[str, str],
                    problems: list[str]) -> list[ProspectRecord]:
    """Prospect records for the rows that are valid; each bad row is reported with file and row."""
    records, taken = [], set()
    for account in accounts:
        fields = dict(account.fields)
        where = f"{account.file}:{account.row}"
        # The whole name, not its base name: quick for 100k rows, and the same in every CRM's export.
        base = slugify(fields.pop("id", None) or fields["name"])
        prospect_id, n = base, 2
        while prospect_id in taken:
            prospect_id, n = f"{base}-{n}", n + 1
        owner = origins.get(prospect_id)
        if owner is not None and owner != origin:
            problems.append(f"{where}: prospect id {prospect_id!r} is already defined by {owner} (row skipped)")
            continue
        try:
            record = ProspectRecord(id=prospect_id, **fields)
        except ValidationError as exc:
            reasons = ", ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: "
                                f"{e['msg'].removeprefix('Value error, ')}" for e in exc.errors())
            problems.append(f"{where}: {reasons} (row skipped)")
            continue
        taken.add(prospect_id)
        records.append(record)
    return records


def import_accounts(session: Session, config: Config, source_id: str, accounts: Sequence[AccountRow],
                    now: datetime) -> AccountImport:
    """Upsert the export's accounts as prospects in the caller's transaction; sources follow."""
    origin = f"crm:{source_id}"
    report = AccountImport()
    records = account_records(accounts, origin, active_prospect_origins(session), report.problems)
    counts = upsert_prospects(session, [r.model_dump() for r in records], origin=origin, now=now)
    report.new, report.updated, report.unchanged, report.archived = (counts.new, counts.updated, counts.unchanged,
                                                                     counts.archived)
    if counts.new or counts.updated or counts.archived:
        sync_sources_with_prospects(session, config, now)
    return report

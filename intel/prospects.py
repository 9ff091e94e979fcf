"""Prospect records: stable ids and the forms of a name that count as a mention."""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

from cleanco import basename

from intel.settings import ProspectRecord


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "prospect"


def company_basename(name: str) -> str:
    """'Oracle Corporation' -> 'Oracle'; cleanco knows legal suffixes of many countries."""
    return basename(name).strip() or name.strip()


def assign_ids(records: Iterable[ProspectRecord]) -> list[ProspectRecord]:
    """Give every record without an id a slug of its name, unique in the list."""
    records = list(records)
    taken = {r.id for r in records if r.id}
    result = []
    for record in records:
        if record.id is None:
            base = slugify(company_basename(record.name))
            candidate, n = base, 2
            while candidate in taken:
                candidate, n = f"{base}-{n}", n + 1
            taken.add(candidate)
            record = record.model_copy(update={"id": candidate})
        result.append(record)
    return result

"""Prospect records: stable ids and the forms of a name that count as a mention."""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

from cleanco.clean import custom_basename, normalized, prepare_default_terms, strip_punct, strip_tail

from intel.settings import ProspectRecord


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "prospect"


def company_basename(name: str) -> str:
    """'Oracle Corporation' -> 'Oracle'; cleanco knows legal suffixes of many countries."""
    # cleanco tries all of its legal forms on every name (about half a millisecond); handing it
    # only the forms whose last word occurs in the name gives the same answer in a fraction.
    parts = {strip_punct(p) for p in normalized(strip_tail(name)).split()}
    candidates = sorted(i for part in parts for i in _TERMS_BY_LAST_WORD.get(part, ()))
    if not candidates:
        return strip_tail(name).strip() or name.strip()
    return custom_basename(name, [_TERMS[i] for i in candidates]).strip() or name.strip()


_TERMS = prepare_default_terms()
_TERMS_BY_LAST_WORD: dict[str, list[int]] = {}
for _i, (_, _parts) in enumerate(_TERMS):
    _TERMS_BY_LAST_WORD.setdefault(_parts[-1], []).append(_i)


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

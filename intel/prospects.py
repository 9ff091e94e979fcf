"""Prospect records: stable ids and the forms of a name that count as a mention."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Iterable

from cleanco.clean import custom_basename, normalized, prepare_default_terms, strip_punct, tail_removal_rexp

from intel.settings import ProspectRecord


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "prospect"


@lru_cache(maxsize=65536)
def company_basename(name: str) -> str:
    """'Oracle Corporation' -> 'Oracle'; cleanco knows legal suffixes of many countries."""
    # cleanco tries all of its legal forms on every name (about half a millisecond); handing it
    # only the forms whose last word occurs in the name gives the same answer in a fraction.
    tail = strip_tail(name)
    ascii_name = tail.isascii()
    # For ASCII, cleanco's normalization (NFKD, accents and its own map of non-ASCII letters) is lower():
    # the per-character walk it does is most of the cost at 100,000 prospects.
    words = tail.lower().split() if ascii_name else normalized(tail).split()
    parts = [strip_punct(w) for w in words]
    candidates = sorted(i for part in set(parts) for i in _TERMS_BY_LAST_WORD.get(part, ()))
    if not candidates:
        return tail.strip() or name.strip()
    if not ascii_name:
        return custom_basename(name, [_TERMS[i] for i in candidates]).strip() or name.strip()
    # cleanco's custom_basename(suffix=True), on the words already normalized above
    originals = tail.split()
    for i in candidates:
        size, term = _TERMS[i]
        if parts[-size:] == term:
            del parts[-size:]
            del originals[-size:]
    return strip_tail(" ".join(originals)).strip() or name.strip()


_TERMS = prepare_default_terms()
_TERMS_BY_LAST_WORD: dict[str, list[int]] = {}
for _i, (_, _parts) in enumerate(_TERMS):
    _TERMS_BY_LAST_WORD.setdefault(_parts[-1], []).append(_i)


def strip_tail(name: str) -> str:
    """cleanco's strip_tail (trailing non-letters but the dot go), with its pattern used directly."""
    match = tail_removal_rexp.search(name)
    return name[:match.start()] if match else name


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

"""From a connector's RawItems to rows ready to store: canonical links and storage keys."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Sequence

from w3lib.url import canonicalize_url, url_query_cleaner

from connectors.base import RawItem

# Tracking parameters that make one article look like many.
TRACKING_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "utm_id",
                   "gclid", "fbclid", "mc_cid", "mc_eid", "igshid", "ref", "ref_src", "cmpid", "ncid")


def canonical_url(url: str | None) -> str | None:
    if not url:
        return None
    try:
        cleaned = url_query_cleaner(url, TRACKING_PARAMS, remove=True, keep_fragments=False)
        return canonicalize_url(cleaned)
    except ValueError:
        return url


def with_storage_keys(items: Sequence[RawItem]) -> list[tuple[str, RawItem]]:
    """Pair each item with the key it is stored under; the first of two same-key items wins.

    The GUID is the key when the feed gives it once; a GUID that is missing or
    repeated within the feed falls back to the canonical link, then to title and date.
    """
    guid_counts = Counter(item.guid for item in items if item.guid)
    keyed, taken = [], set()
    for item in items:
        if item.guid and guid_counts[item.guid] == 1:
            basis = "guid:" + item.guid
        elif item.url:
            basis = "url:" + (canonical_url(item.url) or item.url)
        else:
            when = item.published_at.isoformat() if item.published_at else ""
            basis = f"title:{item.title}|{when}"
        key = hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()
        if key not in taken:
            taken.add(key)
            keyed.append((key, item))
    return keyed

"""From a connector's RawItems to rows ready to store: canonical links and storage keys."""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from dataclasses import replace
from datetime import datetime
from typing import Mapping, Sequence
from urllib.parse import urlsplit

import nh3
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


# C0 controls (but tab, newline, carriage return), DEL, and lone surrogates: no reader shows them,
# PostgreSQL refuses NUL in text, and a UTF-8 encoder refuses surrogates.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def printable(text: str) -> str:
    return _UNPRINTABLE.sub("", text) if text else text


def plain_title(title: str) -> str:
    """A title as plain text: tags (and script/style content) dropped, entities decoded.

    Feed readers differ in whether they render an RSS title as HTML; stored as
    text, a title is inert in all of them and is escaped once, when rendered.
    """
    # Repeated because feeds double-escape: "&lt;script&gt;" decoded once is a tag again for a
    # reader that decodes once more; a title never needs to show markup as text.
    for _ in range(3):
        if "<" not in title and "&" not in title:
            break
        # nh3 takes only what UTF-8 can encode: an unpaired surrogate (a JSON source's "\ud800"; `printable`
        # drops them anyway) made it raise, and the run with it.
        title = " ".join(html.unescape(nh3.clean(_SURROGATES.sub("", title), tags=set())).split())
    return title


_SURROGATES = re.compile(r"[\ud800-\udfff]")


def web_link(url: str | None) -> str | None:
    """The entry's link if it is http(s); `javascript:`, `data:` and the like become no link."""
    if not url:
        return None
    link = url.strip()
    # The usual link settles without urlsplit: ASCII (no host that Unicode normalization could
    # change, which urlsplit refuses) and no brackets (an IPv6 host urlsplit may refuse).
    start = link[:8].lower()
    if (start == "https://" or start[:7] == "http://") and link.isascii() and "[" not in link and "]" not in link:
        return link
    if urlsplit(link).scheme.lower() not in ("http", "https"):
        return None
    return link


_SCRUBBED_FIELDS = ("summary", "content", "guid", "author")


def scrubbed(item: RawItem) -> RawItem:
    """The item without markup in its title and without characters that cannot be shown or stored."""
    changed = {}
    title = printable(plain_title(item.title))
    if title != item.title:
        changed["title"] = title
    url = web_link(item.url)
    if url:
        url = printable(url)
    if url != item.url:
        changed["url"] = url
    for name in _SCRUBBED_FIELDS:
        value = getattr(item, name)
        if value and _UNPRINTABLE.search(value):
            changed[name] = _UNPRINTABLE.sub("", value)
    if not title.strip():
        changed["title"] = "(untitled)"
    return replace(item, **changed) if changed else item


def with_storage_keys(items: Sequence[RawItem]) -> list[tuple[str, RawItem]]:
    """Pair each item with the key it is stored under; the first of two same-key items wins.

    The GUID is the key when the feed gives it once; a GUID that is missing or
    repeated within the feed falls back to the canonical link, then to title and date.
    """
    items = [scrubbed(item) for item in items]
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


def reuse_known_keys(keyed: Sequence[tuple[str, RawItem]], known_by_link: Mapping[str, str],
                     known_by_title: Mapping[tuple[str, datetime | None], str]) -> list[tuple[str, RawItem]]:
    """Keep stored items' keys for entries whose GUID changed since they were stored.

    Some feeds mint a new GUID on every fetch; keyed by GUID, each poll would
    store every entry again. An entry whose key is not stored yet but whose
    link (unique in this fetch) — or, without a link, title and date — is
    stored under another key is that stored item.
    """
    link_counts = Counter(item.url for _, item in keyed if item.url)
    taken = {key for key, _ in keyed}
    result = []
    for key, item in keyed:
        if item.url:
            known = known_by_link.get(item.url) if link_counts[item.url] == 1 else None
        else:
            known = known_by_title.get((item.title, item.published_at))
        if known and known != key and known not in taken:
            taken.add(known)
            key = known
        result.append((key, item))
    return result

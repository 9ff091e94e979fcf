"""From stored items to feed documents: entries, the reason each is there, validators."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Iterable, Sequence

from api.render import FeedEntry, sanitize_html
from models.feeds import FeedItem, PageKey
from models.stories import also_reported_by
from models.tables import Item, Prospect

EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


def entry_id(item_id: int) -> str:
    # Stable across re-renders and across feeds: the same item is the same entry everywhere.
    return f"urn:prospect-intel:item:{item_id}"


def why_line(item: Item, prospect_ids: set[str], names: dict[str, str]) -> str:
    """One sentence a salesperson reads to see why an entry is in their feed (a stored item)."""
    return _why(item.mentions, item.signals, item.source.title or item.source_id, also_reported_by(item),
                prospect_ids, names)


def _why(mentions: Iterable, signals: Iterable, source: str, also: Sequence[str], prospect_ids: set[str],
         names: dict[str, str]) -> str:
    parts = []
    for mention in sorted(mentions, key=lambda m: -m.score):
        if mention.prospect_id not in prospect_ids:
            continue
        words = ", ".join(_evidence_words(e) for e in
                          [e for e in mention.evidence if not e.startswith("score:")][:3])
        parts.append(f"{names.get(mention.prospect_id, mention.prospect_id)} "
                     f"(score {mention.score:.2f}: {words})")
    kinds = sorted({s.type.replace('_', ' ') for s in signals
                    if s.prospect_id is None or s.prospect_id in prospect_ids})
    line = "About " + "; ".join(parts) if parts else "Matched this feed's filters"
    if kinds:
        line += " — signals: " + ", ".join(kinds)
    return f"{line} — via {source}" + (f"; also reported by {', '.join(also)}." if also else ".")


def _evidence_words(evidence: str) -> str:
    # "title: name 'Apple'; confirmed by keyword 'iphone'" -> "name 'Apple' in title"
    where, _, rest = evidence.partition(": ")
    what = rest.split(";")[0]
    return f"{what} in {where}" if rest else evidence


def entry_updated(item: FeedItem) -> datetime:
    """When the entry last changed: its publication until we see it edited, then the edit.

    Stable across re-renders, and distinct per entry (not the time of the fetch
    that brought a whole batch in).
    """
    if item.updated_at > item.first_seen_at:
        return item.updated_at
    return item.published_at or item.first_seen_at


def build_entries(items: Sequence[FeedItem], prospects: Sequence[Prospect]) -> tuple[FeedEntry, ...]:
    """Entries naming only `prospects` (the feed's, within the reader's scope): an entry in
    one salesperson's bundle never reveals which other companies are someone's prospects."""
    names = {p.id: p.name for p in prospects}
    wanted = set(names)
    entries = []
    for item in items:
        mentioned = tuple((m.prospect_id, m.score) for m in item.mentions if m.prospect_id in wanted)
        entries.append(FeedEntry(
            id=entry_id(item.id), title=item.title, link=item.url,
            summary_html=sanitize_html(item.text),
            published=item.published_at or item.first_seen_at, updated=entry_updated(item),
            source=item.source,
            why=_why(item.mentions, item.signals, item.source, item.also_reported_by, wanted, names),
            prospects=mentioned,
            signals=tuple(sorted({s.type for s in item.signals if s.prospect_id is None or s.prospect_id in wanted})),
            author=item.author))
    return tuple(entries)


def feed_validators(kind: str, key: str, query: str, page: Sequence[PageKey],
                    prospects: Iterable[tuple[str, datetime]]) -> tuple[str, datetime]:
    """A strong ETag and Last-Modified that change exactly when the rendered feed would.

    Made from the page's keys (id, last change, source name) and the stamps of the
    prospects its entries may name, so a conditional request is answered from one
    light query, and a rendering can be kept under its ETag.
    """
    digest = hashlib.sha256(f"{kind}|{key}|{query}".encode())
    stamps = []
    for prospect_id, updated_at in prospects:
        digest.update(f"|p{prospect_id}:{updated_at.isoformat()}".encode())
        stamps.append(updated_at)
    for entry in page:
        digest.update(f"|i{entry.item_id}:{entry.updated_at.isoformat()}:{entry.source}".encode())
        stamps.append(entry.updated_at)
    return f'"{digest.hexdigest()[:40]}"', max(stamps, default=EPOCH)

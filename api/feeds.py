"""From stored items to feed documents: entries, the reason each is there, validators."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Sequence

from api.render import FeedEntry, sanitize_html
from models.stories import also_reported_by
from models.tables import Item, Prospect

EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


def entry_id(item: Item) -> str:
    # Stable across re-renders and across feeds: the same item is the same entry everywhere.
    return f"urn:prospect-intel:item:{item.id}"


def why_line(item: Item, prospect_ids: set[str], names: dict[str, str]) -> str:
    """One sentence a salesperson reads to see why an entry is in their feed."""
    parts = []
    for mention in sorted(item.mentions, key=lambda m: -m.score):
        if mention.prospect_id not in prospect_ids:
            continue
        words = ", ".join(_evidence_words(e) for e in
                          [e for e in mention.evidence if not e.startswith("score:")][:3])
        parts.append(f"{names.get(mention.prospect_id, mention.prospect_id)} "
                     f"(score {mention.score:.2f}: {words})")
    source = item.source.title or item.source_id
    signals = sorted({s.type.replace('_', ' ') for s in item.signals
                      if s.prospect_id is None or s.prospect_id in prospect_ids})
    line = "About " + "; ".join(parts) if parts else "Matched this feed's filters"
    if signals:
        line += " — signals: " + ", ".join(signals)
    also = also_reported_by(item)  # the other sources of this story (models/stories.py)
    return f"{line} — via {source}" + (f"; also reported by {', '.join(also)}." if also else ".")


def _evidence_words(evidence: str) -> str:
    # "title: name 'Apple'; confirmed by keyword 'iphone'" -> "name 'Apple' in title"
    where, _, rest = evidence.partition(": ")
    what = rest.split(";")[0]
    return f"{what} in {where}" if rest else evidence


def entry_updated(item: Item) -> datetime:
    """When the entry last changed: its publication until we see it edited, then the edit.

    Stable across re-renders, and distinct per entry (not the time of the fetch
    that brought a whole batch in).
    """
    if item.updated_at > item.first_seen_at:
        return item.updated_at
    return item.published_at or item.first_seen_at


def build_entries(items: Sequence[Item], prospects: Sequence[Prospect]) -> tuple[FeedEntry, ...]:
    """Entries naming only `prospects` (the feed's, within the reader's scope): an entry in
    one salesperson's bundle never reveals which other companies are someone's prospects."""
    names = {p.id: p.name for p in prospects}
    wanted = set(names)
    entries = []
    for item in items:
        mentioned = tuple((m.prospect_id, m.score) for m in sorted(item.mentions, key=lambda m: -m.score)
                          if m.prospect_id in wanted)
        entries.append(FeedEntry(
            id=entry_id(item), title=item.title, link=item.url,
            summary_html=sanitize_html(item.summary or item.content),
            published=item.published_at or item.first_seen_at, updated=entry_updated(item),
            source=item.source.title or item.source_id, why=why_line(item, wanted, names),
            prospects=mentioned,
            signals=tuple(sorted({s.type for s in item.signals if s.prospect_id is None or s.prospect_id in wanted})),
            author=item.author))
    return tuple(entries)


def feed_validators(kind: str, key: str, query: str, items: Sequence[Item],
                    prospects: Sequence[Prospect]) -> tuple[str, datetime]:
    """A strong ETag and Last-Modified that change exactly when the rendered feed would."""
    digest = hashlib.sha256(f"{kind}|{key}|{query}".encode())
    for prospect in prospects:
        digest.update(f"|p{prospect.id}:{prospect.updated_at.isoformat()}".encode())
    for item in items:
        digest.update(f"|i{item.id}:{item.updated_at.isoformat()}".encode())
    stamps = [i.updated_at for i in items] + [p.updated_at for p in prospects]
    return f'"{digest.hexdigest()[:40]}"', max(stamps, default=EPOCH)


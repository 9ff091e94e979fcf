"""Feed documents and their three renderings: Atom 1.0, RSS 2.0 and JSON Feed 1.1.

Renderers take plain `FeedDoc`s so they can be tested (and validated) without
a database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape

import nh3
from feedgen.feed import FeedGenerator

GENERATOR = "prospect-intel"
SIGNAL_SCHEME = "urn:prospect-intel:signal"
PROSPECT_SCHEME = "urn:prospect-intel:prospect"
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
MEDIA_TYPES = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


@dataclass(frozen=True)
class FeedEntry:
    id: str
    title: str
    link: str | None
    summary_html: str
    published: datetime
    updated: datetime
    source: str
    why: str
    prospects: tuple[tuple[str, float], ...] = ()
    signals: tuple[str, ...] = ()
    author: str | None = None


@dataclass(frozen=True)
class FeedDoc:
    id: str
    title: str
    self_url: str
    home_url: str
    description: str
    updated: datetime
    entries: tuple[FeedEntry, ...] = ()
    next_url: str | None = None


def sanitize_html(markup: str) -> str:
    """Only allowlisted markup and http(s)/mailto links survive."""
    return nh3.clean(markup or "", url_schemes=ALLOWED_URL_SCHEMES, link_rel="noopener noreferrer nofollow")


def entry_html(entry: FeedEntry) -> str:
    """The summary readers show: why the entry is here, then the item's own summary."""
    why = f"<p><em>{escape(entry.why)}</em></p>"
    return why + entry.summary_html


def _generator(doc: FeedDoc) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(doc.id)
    fg.title(doc.title)
    fg.subtitle(doc.description)
    fg.link(href=doc.self_url, rel="self")
    fg.link(href=doc.home_url, rel="alternate")
    if doc.next_url:
        fg.link(href=doc.next_url, rel="next")
    fg.updated(doc.updated)
    fg.author(name=GENERATOR)
    fg.generator(GENERATOR)
    fg.language("en")
    for entry in doc.entries:
        fe = fg.add_entry(order="append")
        fe.id(entry.id)
        fe.guid(entry.id, permalink=False)
        fe.title(entry.title)
        if entry.link:
            fe.link(href=entry.link)
        else:  # Atom: an entry without an alternate link must carry content
            fe.content(entry_html(entry), type="html")
        fe.summary(entry_html(entry), type="html")  # also RSS's <description>
        fe.published(entry.published)
        fe.updated(entry.updated)
        if entry.author:
            fe.author(name=entry.author)
        for signal in entry.signals:
            fe.category(term=signal, scheme=SIGNAL_SCHEME, label=signal.replace("_", " "))
        for prospect, score in entry.prospects:
            fe.category(term=prospect, scheme=PROSPECT_SCHEME, label=f"{prospect} (score {score:.2f})")
    return fg


def render_atom(doc: FeedDoc) -> bytes:
    return _generator(doc).atom_str(pretty=True)


def render_rss(doc: FeedDoc) -> bytes:
    fg = _generator(doc)
    fg.description(doc.description)
    return fg.rss_str(pretty=True)


def render_json(doc: FeedDoc) -> bytes:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": doc.title,
        "home_page_url": doc.home_url,
        "feed_url": doc.self_url,
        "description": doc.description,
        "language": "en",
        "items": [_json_item(entry) for entry in doc.entries],
    }
    if doc.next_url:
        feed["next_url"] = doc.next_url
    return json.dumps(feed, ensure_ascii=False, indent=1).encode("utf-8")


def _json_item(entry: FeedEntry) -> dict:
    item = {
        "id": entry.id,
        "title": entry.title,
        "content_html": entry_html(entry),
        "summary": entry.why,
        "date_published": _rfc3339(entry.published),
        "date_modified": _rfc3339(entry.updated),
        "tags": list(entry.signals),
        "_prospect_intel": {
            "source": entry.source,
            "why": entry.why,
            "prospects": [{"id": p, "score": s} for p, s in entry.prospects],
            "signals": list(entry.signals),
        },
    }
    if entry.link:
        item["url"] = entry.link
    if entry.author:
        item["authors"] = [{"name": entry.author}]
    return item


def _rfc3339(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


RENDERERS = {"atom": render_atom, "rss": render_rss, "json": render_json}

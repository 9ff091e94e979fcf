"""Feed documents and their three renderings: Atom 1.0, RSS 2.0 and JSON Feed 1.1.

Renderers take plain `FeedDoc`s so they can be tested (and validated) without
a database.
"""

from __future__ import annotations

import email.utils
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from typing import Sequence

import nh3

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


# Written as text: each entry on its own, so an entry's rendering can be kept and reused when
# the feed around it changes (api/routes/feeds.py), and without feedgen, which made a Python
# object per field and then a tree: several times slower for a 50-entry page. Text and
# attribute values go through `_x`/`_attr` (XML escaping, characters XML 1.0 cannot carry
# dropped); the W3C validator and feedparser check the documents (tests/api).
ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"


def atom_entry(entry: FeedEntry) -> str:
    html = _x(entry_html(entry))
    parts = [f"<id>{_x(entry.id)}</id>", f"<title>{_x(entry.title)}</title>",
             f"<updated>{_rfc3339(entry.updated)}</updated>"]
    if entry.author:
        parts.append(f"<author><name>{_x(entry.author)}</name></author>")
    if entry.link:
        parts.append(f"<link href={_attr(entry.link)}/>")
    else:  # Atom: an entry without an alternate link must carry content
        parts.append(f'<content type="html">{html}</content>')
    parts.append(f'<summary type="html">{html}</summary>')
    parts.extend(f'<category term={_attr(signal)} scheme="{SIGNAL_SCHEME}" label={_attr(signal.replace("_", " "))}/>'
                 for signal in entry.signals)
    parts.extend(f'<category term={_attr(prospect)} scheme="{PROSPECT_SCHEME}" '
                 f'label={_attr(f"{prospect} (score {score:.2f})")}/>' for prospect, score in entry.prospects)
    parts.append(f"<published>{_rfc3339(entry.published)}</published>")
    return "  <entry>\n    " + "\n    ".join(parts) + "\n  </entry>\n"


def atom_document(doc: FeedDoc, entries: Sequence[str]) -> bytes:
    head = [f"<id>{_x(doc.id)}</id>", f"<title>{_x(doc.title)}</title>",
            f"<updated>{_rfc3339(doc.updated)}</updated>", f"<author><name>{GENERATOR}</name></author>",
            f'<link href={_attr(doc.self_url)} rel="self"/>', f'<link href={_attr(doc.home_url)} rel="alternate"/>']
    if doc.next_url:
        head.append(f'<link href={_attr(doc.next_url)} rel="next"/>')
    head += [f"<generator>{GENERATOR}</generator>", f"<subtitle>{_x(doc.description)}</subtitle>"]
    return (f'{XML_DECLARATION}<feed xmlns="{ATOM_NS}" xml:lang="en">\n  ' + "\n  ".join(head) + "\n"
            + "".join(entries) + "</feed>\n").encode("utf-8")


def rss_item(entry: FeedEntry) -> str:
    html = _x(entry_html(entry))
    parts = [f"<title>{_x(entry.title)}</title>"]
    if entry.link:
        parts.append(f"<link>{_x(entry.link)}</link>")
    parts.append(f"<description>{html}</description>")
    if not entry.link:
        parts.append(f"<content:encoded>{html}</content:encoded>")
    parts.append(f'<guid isPermaLink="false">{_x(entry.id)}</guid>')
    parts.extend(f'<category domain="{SIGNAL_SCHEME}">{_x(signal.replace("_", " "))}</category>'
                 for signal in entry.signals)
    parts.extend(f'<category domain="{PROSPECT_SCHEME}">{_x(f"{prospect} (score {score:.2f})")}</category>'
                 for prospect, score in entry.prospects)
    parts.append(f"<pubDate>{http_date(entry.published)}</pubDate>")
    return "    <item>\n      " + "\n      ".join(parts) + "\n    </item>\n"


def rss_document(doc: FeedDoc, items: Sequence[str]) -> bytes:
    head = [f"<title>{_x(doc.title)}</title>", f"<link>{_x(doc.home_url)}</link>",
            f"<description>{_x(doc.description)}</description>",
            f'<atom:link href={_attr(doc.self_url)} rel="self"/>']
    if doc.next_url:  # paging as in RFC 5005, which RSS readers that page understand
        head.append(f'<atom:link href={_attr(doc.next_url)} rel="next"/>')
    head += ["<docs>http://www.rssboard.org/rss-specification</docs>", f"<generator>{GENERATOR}</generator>",
             "<language>en</language>", f"<lastBuildDate>{http_date(doc.updated)}</lastBuildDate>"]
    return (f'{XML_DECLARATION}<rss xmlns:atom="{ATOM_NS}" xmlns:content="{CONTENT_NS}" version="2.0">\n'
            "  <channel>\n    " + "\n    ".join(head) + "\n" + "".join(items)
            + "  </channel>\n</rss>\n").encode("utf-8")


def render_atom(doc: FeedDoc) -> bytes:
    return atom_document(doc, [atom_entry(entry) for entry in doc.entries])


def render_rss(doc: FeedDoc) -> bytes:
    return rss_document(doc, [rss_item(entry) for entry in doc.entries])


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(text: str) -> str:
    """Text content: escaped, and without the characters XML 1.0 cannot carry (a title from the wild may have them)."""
    if _NOT_XML.search(text):
        text = _NOT_XML.sub("", text)
    # Three replaces, "&" first: the same text as one str.translate, which looks each character up
    # in its table one by one (a 50-entry page's Atom entries, ~450-character summaries: 3.7 -> 1.4 ms CPU).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    return '"' + _x(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;") + '"'


def http_date(when: datetime) -> str:
    return email.utils.format_datetime(when.astimezone(timezone.utc))


def render_json(doc: FeedDoc) -> bytes:
    return json_document(doc, [json_item(entry) for entry in doc.entries])


def json_item(entry: FeedEntry) -> str:
    # Compact: json's C encoder serializes only without indent (several times faster).
    return json.dumps(_json_item(entry), ensure_ascii=False, separators=(",", ":"))


def json_document(doc: FeedDoc, items: Sequence[str]) -> bytes:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": doc.title,
        "home_page_url": doc.home_url,
        "feed_url": doc.self_url,
        "description": doc.description,
        "language": "en",
    }
    if doc.next_url:
        feed["next_url"] = doc.next_url
    head = json.dumps(feed, ensure_ascii=False, separators=(",", ":"))
    return (head[:-1] + ',"items":[' + ",".join(items) + "]}").encode("utf-8")


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
# The same, an entry at a time and then the document around entries already rendered.
ENTRY_RENDERERS = {"atom": atom_entry, "rss": rss_item, "json": json_item}
DOCUMENT_RENDERERS = {"atom": atom_document, "rss": rss_document, "json": json_document}

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

import nh3
from lxml import etree

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


# Built with lxml directly: feedgen made a Python object per field and then the same tree,
# several times slower for a 50-entry page. The documents are the same elements in the same
# order, escaped by lxml; the W3C validator and feedparser check them (tests/api).
ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_A = "{%s}" % ATOM_NS


def render_atom(doc: FeedDoc) -> bytes:
    feed = etree.Element(_A + "feed", nsmap={None: ATOM_NS})
    feed.set(XML_LANG, "en")
    _text(feed, _A + "id", doc.id)
    _text(feed, _A + "title", doc.title)
    _text(feed, _A + "updated", _rfc3339(doc.updated))
    _text(etree.SubElement(feed, _A + "author"), _A + "name", GENERATOR)
    _link(feed, doc.self_url, "self")
    _link(feed, doc.home_url, "alternate")
    if doc.next_url:
        _link(feed, doc.next_url, "next")
    _text(feed, _A + "generator", GENERATOR)
    _text(feed, _A + "subtitle", doc.description)
    for entry in doc.entries:
        node = etree.SubElement(feed, _A + "entry")
        _text(node, _A + "id", entry.id)
        _text(node, _A + "title", entry.title)
        _text(node, _A + "updated", _rfc3339(entry.updated))
        if entry.author:
            _text(etree.SubElement(node, _A + "author"), _A + "name", entry.author)
        html = entry_html(entry)
        if entry.link:
            etree.SubElement(node, _A + "link", href=_xml_safe(entry.link))
        else:  # Atom: an entry without an alternate link must carry content
            _text(node, _A + "content", html).set("type", "html")
        _text(node, _A + "summary", html).set("type", "html")
        for signal in entry.signals:
            etree.SubElement(node, _A + "category", term=signal, scheme=SIGNAL_SCHEME,
                             label=signal.replace("_", " "))
        for prospect, score in entry.prospects:
            etree.SubElement(node, _A + "category", term=prospect, scheme=PROSPECT_SCHEME,
                             label=f"{prospect} (score {score:.2f})")
        _text(node, _A + "published", _rfc3339(entry.published))
    return _serialize(feed)


def render_rss(doc: FeedDoc) -> bytes:
    rss = etree.Element("rss", nsmap={"atom": ATOM_NS, "content": CONTENT_NS}, version="2.0")
    channel = etree.SubElement(rss, "channel")
    _text(channel, "title", doc.title)
    _text(channel, "link", doc.home_url)
    _text(channel, "description", doc.description)
    _link(channel, doc.self_url, "self")
    if doc.next_url:  # paging as in RFC 5005, which RSS readers that page understand
        _link(channel, doc.next_url, "next")
    _text(channel, "docs", "http://www.rssboard.org/rss-specification")
    _text(channel, "generator", GENERATOR)
    _text(channel, "language", "en")
    _text(channel, "lastBuildDate", http_date(doc.updated))
    for entry in doc.entries:
        item = etree.SubElement(channel, "item")
        _text(item, "title", entry.title)
        if entry.link:
            _text(item, "link", entry.link)
        html = entry_html(entry)
        _text(item, "description", html)
        if not entry.link:
            _text(item, "{%s}encoded" % CONTENT_NS, html)
        _text(item, "guid", entry.id).set("isPermaLink", "false")
        for signal in entry.signals:
            _text(item, "category", signal.replace("_", " ")).set("domain", SIGNAL_SCHEME)
        for prospect, score in entry.prospects:
            _text(item, "category", f"{prospect} (score {score:.2f})").set("domain", PROSPECT_SCHEME)
        _text(item, "pubDate", http_date(entry.published))
    return _serialize(rss)


def _text(parent, tag: str, text: str):
    node = etree.SubElement(parent, tag)
    node.text = _xml_safe(text)
    return node


def _link(parent, href: str, rel: str) -> None:
    etree.SubElement(parent, _A + "link", href=_xml_safe(href), rel=rel)


def _xml_safe(text: str) -> str:
    # lxml refuses control characters that XML 1.0 cannot carry; a title from the wild may have them.
    return _NOT_XML.sub("", text) if _NOT_XML.search(text) else text


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _serialize(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def http_date(when: datetime) -> str:
    return email.utils.format_datetime(when.astimezone(timezone.utc))


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
    # Compact: json's C encoder serializes only without indent (several times faster).
    return json.dumps(feed, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


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

"""A fast path for plain, well-formed RSS 2.0 and Atom 1.0 feeds: lxml instead of feedparser.

feedparser spends ~2 ms per entry in Python SAX callbacks; most feeds are
plain RSS 2.0 or Atom 1.0 whose entries carry a title, a link, an id, dates
and a summary. For those, this module reads the tree with lxml (libxml2) and
derives every field exactly as feedparser does, calling feedparser's own
helpers where it transforms values (relative links, HTML sanitizing, dates),
so both paths yield the same RawItems (tests/connectors/test_fast_feed.py
compares them over every feed in tests/data/feeds and config/demo/feeds).

Anything else returns None and feedparser parses the document: other
versions and namespaces, a DOCTYPE, xml:base, encodings other than UTF-8,
elements this module does not model, repeated elements, markup inside
elements, documents libxml2 finds malformed (feedparser's lenient parser may
still read them).

Safety: the parser resolves no entities, loads no DTD, never touches the
network and keeps libxml2's size limits (no huge_tree); documents declaring
entities were refused before (connectors.rss.refuse_entity_declarations).
"""

from __future__ import annotations

import calendar
import functools
import re
from datetime import datetime, timezone
from urllib.parse import urlsplit

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.sanitizer import _sanitize_html
from feedparser.urls import _urljoin, resolve_relative_uris
from lxml import etree

from connectors.base import RawItem

ATOM = "{http://www.w3.org/2005/Atom}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          recover=False)
_RSS_FIELDS = {"title", "link", "description", "guid", "pubDate", "category", "comments"}
_ATOM_FIELDS = {f"{ATOM}{name}" for name in ("title", "link", "id", "published", "updated", "summary",
                                              "category", "author")}
_ATOM_AUTHOR = f"{ATOM}author"  # checked by _atom_author: a name and nothing else
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_AMP_NAME = re.compile("&([A-Za-z0-9_]+);")


class NotForFastPath(Exception):
    """The document needs feedparser: something here is beyond what this module models exactly."""


def parse_plain_feed(body: bytes, *, base_url: str, content_type: str | None,
                     visibility: str) -> tuple[RawItem, ...] | None:
    """The document's entries, or None when feedparser must parse it."""
    try:
        _check_document(body, base_url, content_type)
        root = etree.fromstring(body, _PARSER)
        if root.tag == "rss" and root.get("version") == "2.0" and None not in root.nsmap:
            return _rss_entries(root, base_url, visibility)
        if root.tag == f"{ATOM}feed":
            return _atom_entries(root, base_url, visibility)
        return None
    except (NotForFastPath, etree.XMLSyntaxError, ValueError):
        return None


def _check_document(body: bytes, base_url: str, content_type: str | None) -> None:
    if not base_url.lower().startswith(("http://", "https://")):
        raise NotForFastPath("relative links resolve against an http(s) base only")
    media_type, _, parameters = (content_type or "").lower().partition(";")
    media_type = media_type.strip()
    if not (media_type == "application/xml" or (media_type.startswith("application/") and media_type.endswith("+xml"))):
        # feedparser warns about other types and weighs the charset of text/* types differently
        raise NotForFastPath("not an application/ XML media type")
    charset = parameters.partition("charset=")[2].split(";")[0].strip(' "\'')
    if charset and charset not in ("utf-8", "utf8"):
        raise NotForFastPath("the server names another charset")
    head = body[:200]
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\0")):
        raise NotForFastPath("a byte-order mark, or UTF-16/32")
    declared = _DECLARATION.match(head)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise NotForFastPath("another encoding")
    if b"<!DOCTYPE" in body or b"<!doctype" in body or b"xml:base" in body:
        raise NotForFastPath("a DOCTYPE or xml:base")


# --- RSS 2.0 -------------------------------------------------------------------------------

def _rss_entries(root, base: str, visibility: str) -> tuple[RawItem, ...]:
    channel = root.find("channel")
    if channel is None or len(root) != 1:
        raise NotForFastPath("not one channel")
    items = []
    for item in channel.iterchildren("item"):
        fields = _children(item, _RSS_FIELDS)
        title = _text_field(fields.get("title"), "title", "text/plain", base, atom=False)
        summary = _text_field(fields.get("description"), "description", "text/html", base, atom=False)
        link = None
        if "link" in fields:
            if fields["link"].attrib:
                raise NotForFastPath("an RSS link with attributes")
            link = _entry_link(_finish(_resolved(base, _stripped(fields["link"]))))
        guid = None
        if "guid" in fields:
            element = fields["guid"]
            is_link = element.get("isPermaLink", "true") == "true"
            guid = _stripped(element)
            guid = _finish(_resolved(base, guid) if is_link else guid)
            if is_link and "link" not in fields:  # a permalink GUID is the link when there is no <link>
                link = guid
        published = _date(fields.get("pubDate"))
        items.append(_item(title, link, guid, summary, published, published, visibility, author=None))
    return tuple(items)


# --- Atom 1.0 ------------------------------------------------------------------------------

def _atom_entries(root, base: str, visibility: str) -> tuple[RawItem, ...]:
    items = []
    for entry in root.iterchildren(f"{ATOM}entry"):
        fields = _children(entry, _ATOM_FIELDS, repeatable={f"{ATOM}link", f"{ATOM}category"})
        title = _atom_text(fields.get(f"{ATOM}title"), "title", base)
        summary = _atom_text(fields.get(f"{ATOM}summary"), "summary", base)
        link = None
        for element in entry.iterchildren(f"{ATOM}link"):
            href = element.get("href")
            rel = (element.get("rel") or "alternate").lower()
            kind = (element.get("type") or ("application/atom+xml" if rel == "self" else "text/html")).lower()
            if href is None or len(element) or (element.text or "").strip():
                raise NotForFastPath("a link without href, or with content")
            if rel == "alternate" and _FeedParserMixin.map_content_type(kind) in _HTML_TYPES:
                link = _joined(base, href)
        guid = None
        if f"{ATOM}id" in fields:  # feedparser treats an Atom id as a permalink GUID
            guid = _finish(_resolved(base, _stripped(fields[f"{ATOM}id"])))
            if link is None:
                link = guid
        author = None
        if f"{ATOM}author" in fields:
            author = _atom_author(fields[f"{ATOM}author"])
        published = _date(fields.get(f"{ATOM}published"))
        # feedparser falls back to the published date only when there is no <updated> at all
        updated = _date(fields[f"{ATOM}updated"]) if f"{ATOM}updated" in fields else published
        items.append(_item(title, link, guid, summary, published, updated, visibility, author=author))
    return tuple(items)


def _atom_text(element, name: str, base: str) -> str | None:
    if element is None:
        return None
    kind = (element.get("type") or "text").lower()
    if kind not in ("text", "html"):
        raise NotForFastPath("xhtml or media-typed Atom text")
    return _text_field(element, name, _FeedParserMixin.map_content_type(kind), base, atom=True)


def _atom_author(element) -> str | None:
    names = [child for child in element if child.tag == f"{ATOM}name"]
    if len(element) != 1 or len(names) != 1 or len(names[0]) or (element.text or "").strip():
        raise NotForFastPath("an author with more than a name")
    return _stripped(names[0]) or None  # feedparser takes names verbatim (no encoding repair)


# --- values exactly as feedparser derives them ---------------------------------------------

def _children(parent, allowed: set[str], repeatable: set[str] = frozenset({"category"})) -> dict:
    found = {}
    for child in parent:
        tag = child.tag
        if not isinstance(tag, str) or tag not in allowed:
            raise NotForFastPath(f"an element this module does not model: {tag!r}")
        if tag in found and tag not in repeatable:
            raise NotForFastPath(f"a repeated {tag}")
        if tag not in repeatable and tag != _ATOM_AUTHOR and len(child):
            raise NotForFastPath(f"markup inside {tag}")
        found.setdefault(tag, child)
    return found


def _resolved(base: str, link: str) -> str:
    return _joined(base, link) if link else link


def _joined(base: str, link: str) -> str:
    """feedparser's _urljoin(base, link), without its work for a link it would give back as it is."""
    if _PLAIN_LINK.fullmatch(link) and not link.endswith(("?", "#")) and "?#" not in link and _joinable(base):
        return link
    return _urljoin(base, link)


# An absolute http(s) link that urljoin returns exactly as it is, against any base it can parse:
# lowercase scheme (else urljoin lowers it), a host right after "//" (feedparser drops extra
# slashes), printable ASCII without brackets (urlsplit may refuse those, and feedparser then gives
# ""), no ';' (path parameters are split off and put back without an empty one), and, checked
# beside it, no empty query or fragment ("…?", "…#", "?#": urljoin drops the bare mark).
_PLAIN_LINK = re.compile(r"https?://[^/?#;\[\]\x00-\x20\x7f-\U0010ffff][^;\[\]\x00-\x20\x7f-\U0010ffff]*")


@functools.lru_cache(maxsize=64)
def _joinable(base: str) -> bool:
    """urljoin can parse the document's base (else feedparser's join gives "" for every link)."""
    try:
        urlsplit(base)
    except ValueError:
        return False
    return True


def _stripped(element) -> str:
    return (element.text or "").strip()


def _finish(text: str) -> str:
    """feedparser's last steps for every text value: undo UTF-8 read as Latin-1, map cp1252 code points."""
    if text.isascii():  # neither step changes ASCII text (most values: links, ids, dates, English prose)
        return text
    try:
        text = text.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return text.translate(_cp1252)


def _text_field(element, name: str, content_type: str, base: str, *, atom: bool) -> str | None:
    if element is None:
        return None
    text = _stripped(element)
    if not atom and content_type == "text/plain" and _FeedParserMixin.looks_like_html(text):
        content_type = "text/html"
    if content_type in _HTML_TYPES and not _SIMPLE_HTML.fullmatch(text):
        text = resolve_relative_uris(text, base, "utf-8", content_type)
        text = _sanitize_html(text, "utf-8", content_type)
    return _finish(text)


# Text, and tags without attributes that feedparser's HTML passes (link resolving, sanitizing) give
# back unchanged: the usual <p>…</p> summary needs neither (tests/connectors/test_fast_feed.py holds
# both paths equal on generated markup). Void elements (<br>) come back as <br />, so they are not here.
# Possessive: a run of text and a tag begin with different characters, so nothing is ever given back,
# and the match takes one step per run instead of one per character.
_SIMPLE_HTML = re.compile(r"(?:[^<>&\r]++|</?(?:%s)>)*+" % "|".join(
    "p b i em strong ul ol li h1 h2 h3 h4 h5 h6 blockquote code pre span div u s sub sup small big tt "
    "dl dt dd table tr td th thead tbody abbr cite q kbd var".split()))


def _entry_link(link: str) -> str:
    link = link.replace("&amp;", "&")
    return _AMP_NAME.sub(r"&\g<1>", link)


def _date(element) -> datetime | None:
    if element is None:
        return None
    parsed = _parse_date(_finish(_stripped(element)))
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=timezone.utc)
    except (OverflowError, ValueError, TypeError):
        return None


def _item(title, link, guid, summary, published, updated, visibility, *, author) -> RawItem:
    summary = summary or ""
    return RawItem(title=(title or "").strip() or "(untitled)", url=link or None, guid=(guid or "").strip() or None,
                   summary=summary, content="", author=author or None, published_at=published,
                   updated_at=updated, visibility=visibility)


"""Pages without feeds (`kind: web`).

List mode: CSS selectors (parsel syntax) turn a newsroom, press-release or
blog index into entries; optionally each new entry's own page is fetched and
its text extracted (trafilatura), at most `fulltext_limit` per run.
Change mode: the page's main text, boilerplate removed, is hashed line by
line; a change emits one entry saying what was added.

Pages are always parsed as HTML, even XHTML that starts with `<?xml` (which
parsel would hand to its XML parser): libxml2's HTML parser never reads a DTD,
so no entity is declared, expanded or fetched, and namespaced XHTML matches
the same CSS selectors as HTML. A page whose DOCTYPE carries an internal
subset, where entities are declared, is refused with a reason instead of being
stored with its declarations as text.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import urljoin

from parsel import Selector

from connectors.base import ConnectorError, FetchResult, ParseError, RawItem, SourceSpec
from connectors.dates import parse_date
from connectors.http import PoliteClient, fetch_fields

# Never part of a page's main text.
BOILERPLATE_TAGS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside",
                    "form", "iframe", "svg", "button", "select")
BLOCK_TAGS = {"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "dt", "dd",
              "pre", "blockquote", "section", "article", "main", "br", "table", "figcaption", "address"}
MAX_REMEMBERED_LINES = 5000
MAX_REMEMBERED_READS = 2000
SUMMARY_CHARS = 600
_DOCTYPE = re.compile("<!doctype", re.IGNORECASE)


class WebConnector:
    kind = "web"

    def __init__(self, client: PoliteClient) -> None:
        self.client = client

    def fetch(self, spec: SourceSpec) -> FetchResult:
        settings = spec.settings
        response = self.client.get(spec, robots=settings.get("robots", True))
        common = fetch_fields(response, spec)
        if response.not_modified:
            return FetchResult(not_modified=True, **common)
        page = response.text()
        if settings.get("mode", "list") == "change":
            items, state = watch_for_change(page, response.url, settings, spec.state, spec.visibility)
            return FetchResult(items=items, state=state, bytes_read=len(response.body), **common)
        items, skipped = list_entries(page, response.url, settings["selectors"],
                                      date_format=settings.get("date_format"), visibility=spec.visibility)
        if not items and not skipped:
            raise ParseError(f"the item selector {settings['selectors']['item']!r} matched nothing on "
                             f"{response.url}; the page layout may have changed")
        warnings = (f"{skipped} entries had no title and were skipped",) if skipped else ()
        state = None
        if settings.get("fulltext"):
            items, state = self._with_full_text(spec, items, spec.state or {})
        return FetchResult(items=items, state=state, bytes_read=len(response.body), warnings=warnings, **common)

    def _with_full_text(self, spec: SourceSpec, items: tuple[RawItem, ...],
                        state: Mapping[str, Any]) -> tuple[tuple[RawItem, ...], dict[str, Any]]:
        """Entries not read before, each with its page's text; the rest wait for a later run.

        Entries read in an earlier run are left out, so their stored text is
        never overwritten by an entry without it.
        """
        import trafilatura

        read = list(state.get("read", []))
        already = set(read)
        limit = int(spec.settings.get("fulltext_limit", 10))
        result = []
        for item in items:
            key = _short_hash(item.url or item.title)
            if key in already or not item.url:
                continue
            if len(result) >= limit:
                break
            content = ""
            try:
                article = self.client.get(spec, item.url, robots=spec.settings.get("robots", True),
                                          conditional=False)
                page = article.text()
                refuse_dtd_subset(page)
                text = trafilatura.extract(page, url=article.url, include_comments=False) or ""
                content = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n") if p.strip())
            except ConnectorError:
                pass  # the entry still counts, with the index page's summary only
            result.append(RawItem(title=item.title, url=item.url, summary=item.summary, content=content,
                                  published_at=item.published_at, visibility=item.visibility))
            read.append(key)
            already.add(key)
        return tuple(result), {"read": read[-MAX_REMEMBERED_READS:]}


def list_entries(page: str, base_url: str, selectors: Mapping[str, str], *, date_format: str | None = None,
                 visibility: str = "external") -> tuple[tuple[RawItem, ...], int]:
    """The entries an index page lists, and how many matched the item selector without a title."""
    document = html_document(page)
    base = document.css("base::attr(href)").get()
    base_url = urljoin(base_url, base) if base else base_url
    items, skipped = [], 0
    for node in document.css(selectors["item"]):
        title = _text(node, selectors.get("title") or "a")
        link = node.css(selectors.get("link") or "a::attr(href)").get()
        if node.root.tag == "a":  # the item is the link itself
            link = link or node.attrib.get("href")
            title = title or " ".join(node.xpath("normalize-space(string(.))").get("").split())
        if not title:
            skipped += 1
            continue
        summary = _text(node, selectors["summary"]) if selectors.get("summary") else ""
        published = parse_date(_text(node, selectors["date"], first=True), date_format) \
            if selectors.get("date") else None
        items.append(RawItem(title=title, url=urljoin(base_url, link.strip()) if link else None,
                             summary=html.escape(summary), published_at=published, visibility=visibility))
    return tuple(items), skipped


def html_document(page: str) -> Selector:
    """The page as an HTML tree (never XML: see the module docstring)."""
    refuse_dtd_subset(page)
    return Selector(text=page, type="html")


def refuse_dtd_subset(page: str) -> None:
    """A DOCTYPE with an internal subset (`<!DOCTYPE html [ ... ]>`) is how entity attacks start.

    Billion laughs, quadratic blowup and external entities (file://, http://)
    are all declared there, and no web page needs one. The HTML parser is what
    keeps any declaration inert; this check turns the attack's usual shape
    into a failed run with a reason. Linear: the first DOCTYPE up to its `>`.
    """
    found = _DOCTYPE.search(page)
    if found is None:
        return
    end = page.find(">", found.end())
    if "[" in page[found.end():end if end >= 0 else len(page)]:
        raise ParseError("the page's DOCTYPE declares an internal subset, where XML entities are declared "
                         "(billion laughs, file:// or http:// reads); web pages never need one, so it is "
                         "refused unparsed")


def _text(node: Selector, selector: str, *, first: bool = False) -> str:
    """Text the selector picks in `node`: ::text and ::attr() strings as they are, elements' text content.

    An element selector takes its first match; a ::text selector joins all of its strings.
    """
    parts = []
    for found in node.css(selector):
        value = found.root if isinstance(found.root, str) else found.xpath("normalize-space(string(.))").get("")
        value = " ".join(value.split())
        if value:
            parts.append(value)
            if first or not isinstance(found.root, str):
                break
    return " ".join(parts)


# --- change mode ---------------------------------------------------------------------------

def main_text_lines(page: str, main: str | None = None) -> list[str]:
    """The page's main text as lines: boilerplate removed, whitespace normalized."""
    document = html_document(page)
    for tag in BOILERPLATE_TAGS:
        for node in document.css(tag):
            node.drop()
    region = None
    for candidate in ([main] if main else ["main", "[role=main]", "article", "body"]):
        found = document.css(candidate)
        if found:
            region = found[0]
            break
    root = (region or document).root
    if not hasattr(root, "iter"):
        return []
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() in BLOCK_TAGS:
            element.tail = "\n" + (element.tail or "")
            element.text = "\n" + (element.text or "")
    text = root.text_content() if hasattr(root, "text_content") else "".join(root.itertext())
    lines = (" ".join(line.split()) for line in text.splitlines())
    return [line for line in lines if line]


def watch_for_change(page: str, url: str, settings: Mapping[str, Any], state: Mapping[str, Any] | None,
                     visibility: str) -> tuple[tuple[RawItem, ...], dict[str, Any] | None]:
    """One entry when the main text changed since the last run; the first run records a baseline."""
    lines = main_text_lines(page, settings.get("main"))
    digest = hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()
    state = state or {}
    if state.get("hash") == digest:
        return (), None
    line_hashes = list(dict.fromkeys(_short_hash(line) for line in lines))
    new_state = {"hash": digest, "lines": line_hashes[:MAX_REMEMBERED_LINES]}
    if "hash" not in state:
        return (), new_state
    before = set(state.get("lines", []))
    added = [line for line in lines if _short_hash(line) not in before]
    removed = len(before - set(line_hashes))
    title = settings.get("title") or html_document(page).css("title::text").get("").strip() or url
    item = RawItem(title=f"{title}: page changed", url=url, guid=f"{url}#change-{digest[:16]}",
                   summary=html.escape(change_summary(added, removed)),
                   content="".join(f"<p>{html.escape(line)}</p>" for line in added[:50]),
                   published_at=datetime.now(timezone.utc), visibility=visibility)
    return (item,), new_state


def change_summary(added: list[str], removed: int) -> str:
    if not added:
        return f"{removed} line(s) removed, nothing added."
    head = f"Added ({len(added)} line{'s' if len(added) != 1 else ''}): "
    text = " / ".join(added)
    if len(text) > SUMMARY_CHARS:
        text = text[:SUMMARY_CHARS].rsplit(" ", 1)[0] + " …"
    return head + text


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


"""`kind: discover`: find a site's own feeds so nobody has to look for them by hand.

From the site's page: every `<link rel="alternate">` of an RSS or Atom type,
then the common feed paths (`/feed`, `/rss.xml`, ...). A candidate counts only
when it parses as a feed. The feeds found are returned, not stored: the
pipeline subscribes to them (models.derived_sources).
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser
from parsel import Selector

from connectors.base import ConnectorError, DiscoveredFeed, FetchResult, SourceSpec
from connectors.http import PoliteClient, fetch_fields

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml",
              "text/xml")
DEFAULT_PATHS = ("/feed", "/rss", "/feed.xml", "/rss.xml", "/atom.xml", "/index.xml",
                 "/blog/feed", "/news/feed", "/news/rss", "/press/feed")


class DiscoverConnector:
    kind = "discover"

    def __init__(self, client: PoliteClient) -> None:
        self.client = client

    def fetch(self, spec: SourceSpec) -> FetchResult:
        settings = spec.settings
        robots = settings.get("robots", True)
        response = self.client.get(spec, robots=robots)
        common = fetch_fields(response, spec)
        if response.not_modified:
            return FetchResult(not_modified=True, **common)
        candidates = advertised_feeds(response.text(), response.url)
        origin = urlunsplit(urlsplit(response.url)[:2] + ("", "", ""))
        candidates += [urljoin(origin, path) for path in settings.get("paths", DEFAULT_PATHS)]
        found: dict[str, DiscoveredFeed] = {}
        tried = set()
        for url in candidates:
            if len(found) >= int(settings.get("max_feeds", 5)):
                break
            if url in tried:
                continue
            tried.add(url)
            feed = self._probe(spec, url, robots)
            if feed is not None and feed.url not in found:
                found[feed.url] = feed
        return FetchResult(discovered=tuple(found.values()), bytes_read=len(response.body), **common)

    def _probe(self, spec: SourceSpec, url: str, robots: bool) -> DiscoveredFeed | None:
        try:
            response = self.client.get(spec, url, robots=robots, conditional=False)
        except ConnectorError:
            return None
        parsed = feedparser.parse(response.body)
        if not parsed.get("version") or (parsed.get("bozo") and not parsed.entries):
            return None
        # The address the feed settled on after permanent redirects is the one to poll.
        return DiscoveredFeed(url=response.permanent_url or url,
                              title=(parsed.feed.get("title") or "").strip() or None)


def advertised_feeds(page: str, base_url: str) -> list[str]:
    """Feed URLs a page advertises with <link rel="alternate" type="...rss/atom...">, in page order."""
    document = Selector(text=page, type="html")  # XHTML with <?xml too: see connectors/web.py
    base = document.css("base::attr(href)").get()
    base_url = urljoin(base_url, base) if base else base_url
    urls = []
    for link in document.css("link[href]"):
        rel = (link.attrib.get("rel") or "").lower().split()
        kind = (link.attrib.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rel and kind in FEED_TYPES:
            urls.append(urljoin(base_url, link.attrib["href"].strip()))
    return list(dict.fromkeys(urls))

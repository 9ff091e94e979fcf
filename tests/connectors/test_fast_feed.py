"""The lxml fast path (connectors.fast_feed) yields exactly the items feedparser yields, or steps aside.

Differential: every feed in tests/data/feeds and config/demo/feeds, the
benchmark's generated feeds, and generated RSS and Atom documents full of
markup, entities, relative links and odd whitespace are parsed both ways;
wherever the fast path answers, its items must equal feedparser's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.common import companies, feed_xml
from connectors.fast_feed import parse_plain_feed
from connectors.rss import parse_feed, parse_with_feedparser
from tests.conftest import rss_feed

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted([*ROOT.glob("tests/data/feeds/*.rss"), *ROOT.glob("tests/data/feeds/*.atom"),
                 *ROOT.glob("tests/data/feeds/*.xml"), *ROOT.glob("config/demo/feeds/*")])
BASE = "https://news.example.com/section/feed.xml"
XML = "application/rss+xml; charset=utf-8"


def both_ways(body: bytes, content_type: str = XML):
    fast = parse_plain_feed(body, base_url=BASE, content_type=content_type, visibility="external")
    slow, _ = parse_with_feedparser(body, base_url=BASE, content_type=content_type)
    return fast, slow


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_feeds_on_disk_parse_the_same_both_ways(path):
    fast, slow = both_ways(path.read_bytes())
    assert fast is not None, "plain RSS 2.0 / Atom 1.0: the fast path reads it"
    assert list(fast) == list(slow)


def test_generated_benchmark_feeds_parse_the_same_both_ways():
    names = [c["name"] for c in companies(50)]
    for feed in range(5):
        fast, slow = both_ways(feed_xml(feed, 50, names))
        assert fast is not None and list(fast) == list(slow)


def test_parse_feed_uses_the_fast_path_and_keeps_feedparser_for_the_rest():
    plain = rss_feed({"title": "Siemens AG wins", "link": "https://x.example.com/1", "guid": "g1"}).encode()
    items, warnings = parse_feed(plain, base_url=BASE, content_type=XML)
    assert [i.title for i in items] == ["Siemens AG wins"] and warnings == ()
    # No Content-Type: feedparser reads it and says so, as before.
    items, warnings = parse_feed(plain, base_url=BASE, content_type=None)
    assert [i.title for i in items] == ["Siemens AG wins"] and "no Content-type" in warnings[0]


@pytest.mark.parametrize("document", [
    '<!DOCTYPE rss SYSTEM "http://127.0.0.1:9/rss.dtd"><rss version="2.0"><channel><title>t</title></channel></rss>',
    '<rss version="0.91"><channel><title>t</title><item><title>x</title></item></channel></rss>',
    '<rss version="2.0"><channel><item><title>x</title><author>a@b.c (A)</author></item></channel></rss>',
    '<rss version="2.0"><channel><item><title>x</title><description><b>raw</b> markup</description></item>'
    '</channel></rss>',
    '<rss version="2.0"><channel><item><title>x &nbsp; y</title></item></channel></rss>',
    '<rss version="2.0" xml:base="https://elsewhere.example.com/"><channel><item><title>x</title></item></channel>'
    '</rss>',
    '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><item><title>x</title></item>'
    '</channel></rss>',
    '<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/'
    'xhtml">x</div></title></entry></feed>',
    '<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>x</title><content>c</content></entry></feed>',
], ids=["doctype", "rss091", "rss-author", "raw-markup", "html-entity", "xml-base", "latin1", "atom-xhtml",
        "atom-content"])
def test_documents_beyond_the_fast_path_go_to_feedparser(document):
    assert parse_plain_feed(document.encode("utf-8"), base_url=BASE, content_type=XML, visibility="external") is None


def test_wrong_media_types_and_charsets_go_to_feedparser():
    plain = rss_feed({"title": "x", "guid": "g"}).encode()
    for content_type in (None, "text/xml", "text/html", "application/rss+xml; charset=iso-8859-1"):
        assert parse_plain_feed(plain, base_url=BASE, content_type=content_type, visibility="external") is None
    assert parse_plain_feed(plain, base_url="file:///tmp/feed.xml", content_type=XML, visibility="x") is None


# --- generated documents -------------------------------------------------------------------

FRAGMENTS = st.sampled_from([
    "Siemens", "AG", " ", "  ", "\n", "\t", "&", "&amp;", "<", ">", "&lt;b&gt;", "&#233;", "&#x2014;", "é", "—",
    "Ã¼", "\u0080", "\u0093", "<p>", "</p>", "<b>", "</b>", "<br>", "<br/>", "<em>", "</em>", "<P>", "<div>",
    '<a href="/rel">', '<a href="https://abs.example.com/x?a=1&b=2">', "</a>", '<img src="i.png">',
    "<script>", "</script>", '<span style="color:red">', "</span>", "'", '"', "x=1", "?", "/", "#", "%20",
    "javascript:alert(1)", "[", "]", "]]", "&nbsp;", "&amp;amp;", "\u00a0", "1.5", "$", "€",
])
TEXT = st.lists(FRAGMENTS, max_size=12).map("".join)
LINKS = st.sampled_from(["https://news.example.com/a", "/relative/b", "c?x=1&y=2", "https://x.example.com/ü",
                         "", "  https://spaces.example.com/  ", "mailto:a@b.c", "javascript:alert(1)"])
DATES = st.sampled_from(["Tue, 04 Nov 2025 08:00:00 GMT", "Tue, 04 Nov 2025 08:00:00 +0100",
                         "2025-11-04T08:00:00Z", "2025-11-04", "yesterday", "", "Mon, 31 Feb 2025 10:00:00 GMT"])


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def as_cdata(text: str) -> str:
    return f"<![CDATA[{text}]]>" if "]]>" not in text else escape(text)


@st.composite
def rss_items(draw) -> str:
    parts = []
    if draw(st.booleans()):
        parts.append(f"<title>{escape(draw(TEXT))}</title>")
    if draw(st.booleans()):
        parts.append(f"<link>{escape(draw(LINKS))}</link>")
    if draw(st.booleans()):
        permalink = draw(st.sampled_from(["", ' isPermaLink="false"', ' isPermaLink="true"']))
        parts.append(f"<guid{permalink}>{escape(draw(st.sampled_from(['g-1', '/guid/rel', 'https://g.example.com/1', ''])))}</guid>")
    if draw(st.booleans()):
        text = draw(TEXT)
        parts.append(f"<description>{as_cdata(text) if draw(st.booleans()) else escape(text)}</description>")
    if draw(st.booleans()):
        parts.append(f"<pubDate>{escape(draw(DATES))}</pubDate>")
    if draw(st.booleans()):
        parts.append("<category>News</category>")
    draw(st.randoms()).shuffle(parts)
    return f"<item>{''.join(parts)}</item>"


@st.composite
def atom_entries(draw) -> str:
    parts = []
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["", ' type="text"', ' type="html"']))
        parts.append(f"<title{kind}>{escape(draw(TEXT))}</title>")
    for _ in range(draw(st.integers(0, 2))):
        rel = draw(st.sampled_from(["", ' rel="alternate"', ' rel="self"', ' rel="enclosure"']))
        kind = draw(st.sampled_from(["", ' type="text/html"', ' type="application/pdf"']))
        parts.append(f'<link{rel}{kind} href="{escape(draw(LINKS))}"/>')
    if draw(st.booleans()):
        parts.append(f"<id>{escape(draw(st.sampled_from(['tag:x.example.com,2025:1', '/id/rel', 'urn:uuid:1'])))}</id>")
    for name in ("published", "updated"):
        if draw(st.booleans()):
            parts.append(f"<{name}>{escape(draw(DATES))}</{name}>")
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["", ' type="text"', ' type="html"']))
        parts.append(f"<summary{kind}>{escape(draw(TEXT))}</summary>")
    if draw(st.booleans()):
        parts.append(f"<author><name>{escape(draw(TEXT))}</name></author>")
    draw(st.randoms()).shuffle(parts)
    return f"<entry>{''.join(parts)}</entry>"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rss_items(), max_size=5))
def test_generated_rss_parses_the_same_both_ways(items):
    body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>https://news.example.com/</link>{''.join(items)}</channel></rss>").encode("utf-8")
    fast, slow = both_ways(body)
    assert fast is not None
    assert list(fast) == list(slow)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(atom_entries(), max_size=5))
def test_generated_atom_parses_the_same_both_ways(entries):
    body = ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
            f"{''.join(entries)}</feed>").encode("utf-8")
    fast, slow = both_ways(body, "application/atom+xml")
    if fast is not None:
        assert list(fast) == list(slow)

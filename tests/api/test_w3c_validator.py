"""Every Atom and RSS feed passes the W3C feed validator, fetched over HTTP from a live server.

Needs a checkout of https://github.com/w3c/feedvalidator (kept outside this
repository) in $FEEDVALIDATOR_DIR, and lxml, html5lib and rdflib installed.
"""

from __future__ import annotations

import feedparser
import httpx
import pytest

from tests.api.feedcheck import feedvalidator_dir, w3c_validate

pytestmark = pytest.mark.skipif(
    feedvalidator_dir() is None or not (feedvalidator_dir() / "src" / "feedvalidator").is_dir(),
    reason="set FEEDVALIDATOR_DIR to a checkout of github.com/w3c/feedvalidator to run the W3C validator")

FEEDS = ["/feeds/prospects/apple.atom", "/feeds/prospects/apple.rss",
         "/feeds/users/alice@example.com.atom", "/feeds/users/alice@example.com.rss",
         "/feeds/users/alice@example.com.atom?limit=2", "/feeds/users/alice@example.com.rss?limit=2",
         "/feeds/channels/deals.atom", "/feeds/channels/deals.rss",
         "/feeds/prospects/snowflake.atom?since=2000-01-01T00:00:00Z"]  # with an entry without a link


@pytest.fixture(params=["sqlite"])  # the documents do not depend on the database; one is enough
def database_url(request, tmp_path):
    return f"sqlite:///{tmp_path / 'intel.db'}"


def test_feeds_have_no_errors_or_warnings_in_the_w3c_validator(live_server, seeded):
    token = seeded.tokens["alice"]
    report = {}
    for path in FEEDS:
        url = f"{live_server.base_url}{path}{'&' if '?' in path else '?'}token={token}"
        events = [e for e in w3c_validate(url) if e["level"] in ("error", "warning")]
        if events:
            report[path] = events
    # The second page of a paged feed, reached through its rel="next" link.
    first = httpx.get(f"{live_server.base_url}/feeds/users/alice@example.com.atom",
                      params={"limit": "2", "token": token})
    [next_page] = [link.href for link in feedparser.parse(first.content).feed.links if link.rel == "next"]
    events = [e for e in w3c_validate(next_page) if e["level"] in ("error", "warning")]
    if events:
        report["next page"] = events
    assert report == {}
    assert all(status == 200 for _, status in live_server.seen) and len(live_server.seen) == len(FEEDS) + 2


def test_the_validator_does_report_a_broken_feed(live_server, seeded):
    """Proves the harness would notice: a feed with a bad date fails it."""
    from fastapi import Response
    from starlette.routing import Route

    broken = (b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
              b"<title>x</title><id>urn:x</id><updated>yesterday</updated></feed>")
    path = f"{live_server.base_url}/broken.atom"
    live_server.app.router.routes.insert(0, Route("/broken.atom", lambda request: Response(
        broken, media_type="application/atom+xml")))
    levels = {e["level"] for e in w3c_validate(path)}
    assert "error" in levels

"""Per-prospect feeds and the JSON API over stored items."""

from __future__ import annotations

import json

import feedparser
import pytest
from fastapi.testclient import TestClient

from intel.cli import _api_app
from tests.conftest import rss_feed, start_pipeline as start
from tests.foundation.test_ingest import ITEMS


@pytest.fixture
def client(feed_server, write_config, database_url):
    url = feed_server.serve("/feed.xml", rss_feed(*ITEMS, title="Rail and Cloud News"))
    # Tokens are required by default (tests/api covers them); these tests read feeds openly.
    config = write_config([{"id": "news", "kind": "rss", "url": url, "title": "Rail and Cloud News"}],
                          database=database_url, auth={"required": False})
    pipeline, worker = start(config)
    worker.tick(only="news")
    with TestClient(_api_app(config, pipeline.sessions)) as test_client:
        test_client.worker = worker
        test_client.feed_server = feed_server
        yield test_client


def test_atom_feed_lists_items_about_the_prospect_and_why(client):
    response = client.get("/feeds/prospects/siemens.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert feed.version == "atom10" and not feed.bozo
    assert [e.title for e in feed.entries] == ["Siemens AG wins rail signalling contract"]
    entry = feed.entries[0]
    assert entry.link == "https://news.example.com/1"
    assert "Siemens AG" in entry.summary and "Rail and Cloud News" in entry.summary  # the why line


def test_rss_and_json_feed_carry_the_same_entries(client):
    rss = feedparser.parse(client.get("/feeds/prospects/snowflake.rss").content)
    assert rss.version == "rss20"
    assert [e.title for e in rss.entries] == ["Snowflake Inc. launches a new data cloud region"]
    response = client.get("/feeds/prospects/snowflake.json")
    assert response.headers["content-type"].startswith("application/feed+json")
    doc = json.loads(response.content)
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    [item] = doc["items"]
    assert item["title"] == rss.entries[0].title and item["url"] == "https://news.example.com/2"
    assert item["_prospect_intel"]["prospects"][0]["id"] == "snowflake"


def test_conditional_request_gets_304_until_the_feed_changes(client):
    first = client.get("/feeds/prospects/siemens.atom")
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('"') and "max-age" in first.headers["cache-control"]
    assert client.get("/feeds/prospects/siemens.atom", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/feeds/prospects/siemens.atom",
                      headers={"If-Modified-Since": last_modified}).status_code == 304
    # Each format is its own representation with its own validator.
    assert client.get("/feeds/prospects/siemens.rss", headers={"If-None-Match": etag}).status_code == 200
    client.feed_server.serve("/feed.xml", rss_feed(*ITEMS, {"title": "Siemens AG names new CFO",
                                                           "link": "https://news.example.com/9", "guid": "n-9"}))
    client.worker.tick(only="news")
    changed = client.get("/feeds/prospects/siemens.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert len(feedparser.parse(changed.content).entries) == 2


def test_entry_ids_are_stable_across_renders(client):
    ids = [e.id for e in feedparser.parse(client.get("/feeds/prospects/siemens.atom").content).entries]
    again = [e.id for e in feedparser.parse(client.get("/feeds/prospects/siemens.atom").content).entries]
    assert ids == again and ids[0].startswith("urn:prospect-intel:item:")


def test_unknown_prospect_is_404(client):
    assert client.get("/feeds/prospects/nobody.atom").status_code == 404
    assert client.get("/feeds/prospects/siemens.pdf").status_code == 422


def test_json_api_lists_prospects_and_their_items(client):
    listing = client.get("/api/v1/prospects").json()
    assert {p["id"] for p in listing["prospects"]} == {"apple", "siemens", "snowflake"}
    siemens = client.get("/api/v1/prospects/siemens").json()
    assert siemens["feeds"]["atom"].endswith("/feeds/prospects/siemens.atom")
    items = client.get("/api/v1/prospects/siemens/items").json()["items"]
    assert [i["title"] for i in items] == ["Siemens AG wins rail signalling contract"]
    assert items[0]["mentions"][0]["prospect"] == "siemens" and items[0]["mentions"][0]["evidence"]
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}

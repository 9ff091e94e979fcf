"""One story from several sources is one feed entry, "also reported by" the others, re-dated as they join."""

from __future__ import annotations

import feedparser
from fastapi.testclient import TestClient

from sqlalchemy import select

from intel.cli import _api_app
from intel.stories import story_print, story_prints
from models.stories import similarity
from models.tables import Item
from tests.conftest import rss_feed, start_pipeline

WIRE = {"title": "Siemens AG wins €1.5 billion rail contract in Egypt",
        "description": "Siemens AG will supply trains and signalling for a new high-speed line, the company "
                       "said on Tuesday.", "link": "https://wire.example.com/siemens-egypt?utm_source=rss",
        "guid": "wire-1", "pubDate": "Tue, 04 Nov 2025 08:00:00 GMT"}
COPY = {"title": "Siemens AG wins €1.5 billion rail contract in Egypt - Daily Rail",
        "description": "Siemens AG will supply trains and signalling for a new high-speed line, the company "
                       "said on Tuesday.", "link": "https://dailyrail.example.com/a/77",
        "guid": "dr-77", "pubDate": "Tue, 04 Nov 2025 09:30:00 GMT"}
SAME_LINK = {"title": "Egypt rail deal for Siemens", "description": "Short brief.",
             "link": "https://wire.example.com/siemens-egypt", "guid": "brief-9",
             "pubDate": "Tue, 04 Nov 2025 10:00:00 GMT"}
OTHER = {"title": "Siemens AG opens a factory in Texas", "description": "The plant will employ 500 people.",
         "link": "https://wire.example.com/siemens-texas", "guid": "wire-2",
         "pubDate": "Wed, 05 Nov 2025 08:00:00 GMT"}


def test_fingerprints_of_copies_are_close_and_of_other_stories_far():
    wire, copy, other = (story_print(i["title"], i["description"], i["link"]) for i in (WIRE, COPY, OTHER))
    assert similarity(wire.signature, copy.signature) >= 0.5
    assert similarity(wire.signature, other.signature) < 0.3
    # tracking parameters do not make a new link
    assert story_print("x", "", WIRE["link"]).bands[-1] == story_print("y", "", SAME_LINK["link"]).bands[-1]


def test_a_story_from_three_sources_is_one_entry_that_names_the_others(feed_server, write_config, database_url):
    feed_server.serve("/wire.xml", rss_feed(WIRE, OTHER, title="Wire"))
    feed_server.serve("/daily.xml", rss_feed(title="Daily Rail"))
    feed_server.serve("/briefs.xml", rss_feed(SAME_LINK, title="Briefs"))
    config = write_config([{"id": "wire", "kind": "rss", "url": feed_server.url("/wire.xml"), "title": "Wire"},
                           {"id": "daily", "kind": "rss", "url": feed_server.url("/daily.xml"),
                            "title": "Daily Rail"},
                           {"id": "briefs", "kind": "rss", "url": feed_server.url("/briefs.xml"),
                            "title": "Briefs"}],
                          database=database_url, auth={"required": False})
    pipeline, worker = start_pipeline(config)
    with TestClient(_api_app(config, pipeline.sessions)) as client:
        worker.tick(only="wire")
        first = feedparser.parse(client.get("/feeds/prospects/siemens.atom").content)
        egypt_before = next(e for e in first.entries if "Egypt" in e.title)

        feed_server.serve("/daily.xml", rss_feed(COPY, title="Daily Rail"))
        worker.tick(only="daily")
        worker.tick(only="briefs")
        feed = feedparser.parse(client.get("/feeds/prospects/siemens.atom").content)

    titles = [e.title for e in feed.entries]
    assert sorted(titles) == sorted([WIRE["title"], OTHER["title"]]), "copies do not repeat the story"
    egypt = next(e for e in feed.entries if "Egypt" in e.title)
    assert "also reported by Daily Rail, Briefs" in egypt.summary
    assert egypt.updated_parsed >= egypt_before.updated_parsed
    with pipeline.sessions() as session:  # sub-second precision: the entry's `updated` moved on
        lead = session.scalars(select(Item).where(Item.guid == "wire-1")).one()
        assert lead.updated_at > lead.first_seen_at, "a joining source re-dates the entry"
        assert lead.story.source_count == 3 and lead.story.item_count == 3
    texas = next(e for e in feed.entries if "Texas" in e.title)
    assert "also reported by" not in texas.summary


def test_copies_within_one_run_join_the_story_that_run_started(feed_server, write_config, tmp_path):
    feed_server.serve("/wire.xml", rss_feed(WIRE, OTHER, COPY, title="Wire"))
    config = write_config([{"id": "wire", "kind": "rss", "url": feed_server.url("/wire.xml"), "title": "Wire"}],
                          database=f"sqlite:///{tmp_path / 'one-run.db'}", auth={"required": False})
    pipeline, worker = start_pipeline(config)
    [outcome] = worker.tick(only="wire")
    assert outcome.counts.new == 3
    with pipeline.sessions() as session:
        items = {i.guid: i for i in session.scalars(select(Item))}
        assert items["wire-1"].story_id == items["dr-77"].story_id != items["wire-2"].story_id
        assert items["wire-1"].story.item_count == 2 and items["wire-1"].story.source_count == 1


def test_fingerprints_are_stable_across_versions_and_runs():
    """Stored signatures and bands are compared with ones computed later: the numbers must not drift."""
    fingerprint = story_print("Siemens AG wins rail contract", "<p>Siemens will supply trains.</p>",
                              "https://x.example.com/a?utm_source=rss")
    assert fingerprint.signature[:4] == (79183160, 55366420, 30891731, 64891913)
    # Band keys are signed 64-bit integers since migration 0005: the same bits as version 2's hex digits
    # (band 0 was "25f6aec67114969c"), and for the link the first half of version 1's digest
    # ("922f456931bb3f474ca615178ccdff84"), so stored stories keep matching.
    assert fingerprint.bands[0] == (0, 0x25F6AEC67114969C)
    assert fingerprint.bands[-1] == (-1, 0x922F456931BB3F47 - 2 ** 64)  # the canonical link's band
    # computed alone or among many, an item gets the same fingerprint
    batch = story_prints([("Other news", "", None), ("Siemens AG wins rail contract",
                          "<p>Siemens will supply trains.</p>", "https://x.example.com/a?utm_source=rss")] * 50)
    assert batch[1] == fingerprint and batch[99] == fingerprint

"""Stories across big runs, several sources and the story window (SQLite and PostgreSQL).

A run's candidates are ranked and their signatures read a hundred items at a
time (models/stories.py): copies must find their story whichever group of
a run they fall in, whether the story was started by this run or an earlier
one, and a story older than the window must not take new copies.
"""

from __future__ import annotations

import random
from datetime import timedelta

import feedparser
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bench.common import vocabulary
from intel.cli import _api_app
from models.tables import Item, Story
from tests.conftest import rss_feed, start_pipeline

WORDS = vocabulary()
PUBLISHED = "Tue, 04 Nov 2025 08:00:00 GMT"


def wire_item(n: int) -> dict:
    """Wire story `n`: words of its own (a story no other resembles)."""
    words = random.Random(n).sample(WORDS, 26)
    return {"title": " ".join(words[:7]).capitalize(), "description": " ".join(words[7:]) + ".",
            "link": f"https://wire.example.com/{n}", "guid": f"wire-{n}", "pubDate": PUBLISHED}


def copy_of(item: dict, guid: str, *, title_suffix: str = " - Daily", prefix: str = "") -> dict:
    """Another source's copy: its own link and GUID, the title with the paper's name, the same text."""
    return {"title": item["title"] + title_suffix, "description": prefix + item["description"],
            "link": f"https://copies.example.com/{guid}", "guid": guid, "pubDate": PUBLISHED}


def story_of(session, guid: str) -> int | None:
    return session.scalars(select(Item.story_id).where(Item.guid == guid)).one()


def test_copies_find_their_story_in_any_part_of_a_long_run_and_in_later_runs(feed_server, write_config,
                                                                               database_url):
    wire = [wire_item(n) for n in range(150)]
    # Copies inside the run: one a hundred items after its story, one just across the hundredth item.
    wire[130] = copy_of(wire[10], "wire-130", title_suffix=" - Wire Digest")
    wire[101] = copy_of(wire[99], "wire-101", title_suffix=" - Wire Digest")
    daily = [copy_of(wire[5], "daily-5"), copy_of(wire[149], "daily-149"),
             # Only the copy names the prospect: the story's lead entry must still reach its feed.
             copy_of(wire[120], "daily-120", prefix="Siemens AG said: "),
             wire_item(1000) | {"guid": "daily-own-1", "link": "https://daily.example.com/1"},
             wire_item(1001) | {"guid": "daily-own-2", "link": "https://daily.example.com/2"}]
    feed_server.serve("/wire.xml", rss_feed(*wire, title="Wire"))
    feed_server.serve("/daily.xml", rss_feed(*daily, title="Daily"))
    config = write_config([{"id": "wire", "kind": "rss", "url": feed_server.url("/wire.xml"), "title": "Wire"},
                           {"id": "daily", "kind": "rss", "url": feed_server.url("/daily.xml"), "title": "Daily"}],
                          database=database_url, auth={"required": False})
    pipeline, worker = start_pipeline(config)
    [outcome] = worker.tick(only="wire")
    assert outcome.counts.new == 150
    worker.tick(only="daily")

    with pipeline.sessions() as session:
        assert story_of(session, "wire-130") == story_of(session, "wire-10")
        assert story_of(session, "wire-101") == story_of(session, "wire-99")
        for n in (5, 149, 120):
            assert story_of(session, f"daily-{n}") == story_of(session, f"wire-{n}"), f"copy of wire-{n}"
            story = session.get(Story, story_of(session, f"wire-{n}"))
            assert (story.item_count, story.source_count) == (2, 2)
        assert session.get(Story, story_of(session, "wire-10")).source_count == 1
        own = {story_of(session, "daily-own-1"), story_of(session, "daily-own-2")}
        assert len(own) == 2 and None not in own
        assert session.scalar(select(func.count()).select_from(Story)) == 150 - 2 + 2
        # Each story once: distinct stories, not one swallowing others.
        assert session.scalar(select(func.max(Story.item_count))) == 2

    with TestClient(_api_app(config, pipeline.sessions)) as client:
        feed = feedparser.parse(client.get("/feeds/prospects/siemens.atom").content)
    [entry] = [e for e in feed.entries if e.title == wire[120]["title"]]
    assert "also reported by Daily" in entry.summary


def test_a_story_past_the_window_takes_no_more_copies(feed_server, write_config, database_url):
    old, recent = wire_item(1), wire_item(2)
    feed_server.serve("/wire.xml", rss_feed(old, recent, title="Wire"))
    feed_server.serve("/daily.xml", rss_feed(copy_of(old, "daily-1"), copy_of(recent, "daily-2"), title="Daily"))
    config = write_config([{"id": "wire", "kind": "rss", "url": feed_server.url("/wire.xml"), "title": "Wire"},
                           {"id": "daily", "kind": "rss", "url": feed_server.url("/daily.xml"), "title": "Daily"}],
                          database=database_url, tagging={"story_window": "1h"})
    pipeline, worker = start_pipeline(config)
    worker.tick(only="wire")
    with pipeline.sessions.begin() as session:  # the first story was last joined two hours ago
        first = story_of(session, "wire-1")
        story = session.get(Story, first)
        story.updated_at -= timedelta(hours=2)
    worker.tick(only="daily")

    with pipeline.sessions() as session:
        assert story_of(session, "daily-2") == story_of(session, "wire-2")
        assert story_of(session, "daily-1") not in (None, first), "a new story, not the stale one"
        assert session.get(Story, first).item_count == 1

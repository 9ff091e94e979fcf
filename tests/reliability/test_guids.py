"""Feeds with unreliable GUIDs: no duplicate flood, whatever the feed does with its ids."""

from __future__ import annotations

import itertools

from models.tables import Item
from tests.conftest import rss_feed, start_pipeline
from tests.reliability.conftest import item_count

STORIES = [{"title": f"Siemens AG story {n}", "link": f"https://news.example.com/story/{n}",
            "description": f"Story number {n}.", "pubDate": f"Mon, 0{n + 1} Nov 2026 10:00:00 GMT"}
           for n in range(5)]


def test_guids_that_change_on_every_fetch_do_not_flood(feed_server, write_config, database_url):
    fetches = itertools.count()

    def serve_with_fresh_guids(handler) -> None:
        n = next(fetches)
        body = rss_feed(*[dict(s, guid=f"urn:uuid:{n}-{i}") for i, s in enumerate(STORIES)]).encode()
        handler.answer(200, body, {"Content-Type": "application/rss+xml"})

    feed_server.serve("/rotating.xml")
    feed_server.routes["/rotating.xml"].handler = serve_with_fresh_guids
    pipeline, worker = start_pipeline(write_config(
        [{"id": "rotating", "kind": "rss", "url": feed_server.url("/rotating.xml")}], database=database_url))
    outcomes = [worker.tick(only="rotating")[0] for _ in range(4)]
    assert [o.counts.new for o in outcomes] == [5, 0, 0, 0]
    assert item_count(pipeline.sessions) == 5
    # A genuinely new story still gets in.
    STORIES_PLUS = STORIES + [{"title": "Siemens AG story new", "link": "https://news.example.com/story/new"}]

    def serve_plus(handler) -> None:
        n = next(fetches)
        body = rss_feed(*[dict(s, guid=f"urn:uuid:{n}-{i}") for i, s in enumerate(STORIES_PLUS)]).encode()
        handler.answer(200, body, {"Content-Type": "application/rss+xml"})

    feed_server.routes["/rotating.xml"].handler = serve_plus
    [last] = worker.tick(only="rotating")
    assert (last.counts.new, last.counts.seen) == (1, 5)


def test_rotating_guids_without_links_fall_back_to_title_and_date(feed_server, write_config, database_url):
    linkless = [{k: v for k, v in s.items() if k != "link"} for s in STORIES]
    fetches = itertools.count()

    def serve(handler) -> None:
        n = next(fetches)
        body = rss_feed(*[dict(s, guid=f"tag:{n}:{i}") for i, s in enumerate(linkless)]).encode()
        handler.answer(200, body, {"Content-Type": "application/rss+xml"})

    feed_server.serve("/nolinks.xml")
    feed_server.routes["/nolinks.xml"].handler = serve
    pipeline, worker = start_pipeline(write_config(
        [{"id": "nolinks", "kind": "rss", "url": feed_server.url("/nolinks.xml")}], database=database_url))
    assert [worker.tick(only="nolinks")[0].counts.new for _ in range(3)] == [5, 0, 0]
    assert item_count(pipeline.sessions) == 5


def test_a_guid_repeated_within_the_feed_keeps_every_distinct_story(feed_server, write_config, database_url):
    same_guid = [dict(s, guid="the-same-guid") for s in STORIES]
    url = feed_server.serve("/repeat.xml", rss_feed(*same_guid, *same_guid))  # and every entry twice
    pipeline, worker = start_pipeline(write_config([{"id": "repeat", "kind": "rss", "url": url}],
                                                   database=database_url))
    assert worker.tick(only="repeat")[0].counts.new == 5
    assert worker.tick(only="repeat")[0].counts.new == 0
    with pipeline.sessions() as session:
        titles = sorted(t for (t,) in session.query(Item.title))
    assert titles == sorted(s["title"] for s in STORIES)


def test_stable_guids_sharing_one_link_stay_separate_items(feed_server, write_config, database_url):
    """Feeds whose every entry links to the home page: the link identifies nothing, the GUIDs do."""
    homepage = [dict(s, link="https://news.example.com/", guid=f"post-{i}") for i, s in enumerate(STORIES)]
    url = feed_server.serve("/home.xml", rss_feed(*homepage))
    pipeline, worker = start_pipeline(write_config([{"id": "home", "kind": "rss", "url": url}],
                                                   database=database_url))
    assert [worker.tick(only="home")[0].counts.new for _ in range(2)] == [5, 0]
    assert item_count(pipeline.sessions) == 5

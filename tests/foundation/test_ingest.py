"""RSS/Atom ingest end to end against a loopback server and real databases."""

from __future__ import annotations

from sqlalchemy import func, select

from models.tables import Item, Mention, Source, SourceRun
from tests.conftest import rss_feed, start_pipeline as start

ITEMS = [
    {"title": "Siemens AG wins rail signalling contract", "link": "https://news.example.com/1", "guid": "n-1",
     "description": "Siemens will modernise 400 km of track.", "pubDate": "Mon, 02 Nov 2026 10:00:00 GMT"},
    {"title": "Snowflake Inc. launches a new data cloud region", "link": "https://news.example.com/2",
     "guid": "n-2", "description": "The region opens in Zurich.", "pubDate": "Tue, 03 Nov 2026 10:00:00 GMT"},
    {"title": "Weather: first snowflake of the season", "link": "https://news.example.com/3", "guid": "n-3",
     "description": "Cold air arrives on Friday.", "pubDate": "Wed, 04 Nov 2026 10:00:00 GMT"},
]


def count(sessions, model, *where) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_second_poll_is_conditional_and_stores_nothing_new(feed_server, write_config, database_url):
    url = feed_server.serve("/feed.xml", rss_feed(*ITEMS), ETag='"v1"',
                            Last_Modified="Mon, 02 Nov 2026 10:00:00 GMT", Content_Type="application/rss+xml")
    pipeline, worker = start(write_config([{"id": "news", "kind": "rss", "url": url}], database=database_url))
    [first] = worker.tick(only="news")
    assert (first.status, first.counts.new) == ("ok", 3)
    [second] = worker.tick(only="news")
    assert second.status == "not_modified" and second.counts.new == 0
    repoll = feed_server.requests_to("/feed.xml")[-1]
    assert repoll.headers["if-none-match"] == '"v1"'
    assert repoll.headers["if-modified-since"] == "Mon, 02 Nov 2026 10:00:00 GMT"
    assert "prospect-intel/" in repoll.headers["user-agent"]
    assert count(pipeline.sessions, Item) == 3
    with pipeline.sessions() as session:
        statuses = [r.status for r in session.scalars(select(SourceRun).order_by(SourceRun.id))]
        source = session.get(Source, "news")
    assert statuses == ["ok", "not_modified"]
    assert source.etag == '"v1"' and source.next_check_at > source.last_run_at


def test_refetching_the_same_items_creates_no_duplicates(feed_server, write_config, database_url):
    url = feed_server.serve("/feed.xml", rss_feed(*ITEMS))  # no validators: every poll is a full GET
    pipeline, worker = start(write_config([{"id": "news", "kind": "rss", "url": url}], database=database_url))
    worker.tick(only="news")
    feed_server.serve("/feed.xml", rss_feed(*ITEMS, {"title": "Siemens AG opens Austin plant",
                                                     "link": "https://news.example.com/4", "guid": "n-4"}))
    [again] = worker.tick(only="news")
    assert (again.counts.new, again.counts.seen) == (1, 3)
    assert count(pipeline.sessions, Item) == 4


def test_edited_entry_is_updated_not_duplicated(feed_server, write_config, database_url):
    url = feed_server.serve("/feed.xml", rss_feed(*ITEMS))
    pipeline, worker = start(write_config([{"id": "news", "kind": "rss", "url": url}], database=database_url))
    worker.tick(only="news")
    edited = dict(ITEMS[0], title="Siemens AG wins a bigger rail signalling contract")
    feed_server.serve("/feed.xml", rss_feed(edited, *ITEMS[1:]))
    [again] = worker.tick(only="news")
    assert (again.counts.new, again.counts.updated) == (0, 1)
    with pipeline.sessions() as session:
        titles = set(session.scalars(select(Item.title)))
    assert "Siemens AG wins a bigger rail signalling contract" in titles and len(titles) == 3


def test_repeated_or_missing_guids_fall_back_to_links(feed_server, write_config, database_url):
    items = [{"title": "A", "link": "https://news.example.com/a", "guid": "same"},
             {"title": "B", "link": "https://news.example.com/b", "guid": "same"},
             {"title": "C", "link": "https://news.example.com/c?utm_source=x"},
             {"title": "C again", "link": "https://news.example.com/c"}]
    url = feed_server.serve("/feed.xml", rss_feed(*items))
    pipeline, worker = start(write_config([{"id": "news", "kind": "rss", "url": url}], database=database_url))
    worker.tick(only="news")
    worker.tick(only="news")
    with pipeline.sessions() as session:
        titles = sorted(session.scalars(select(Item.title)))
    # A and B share a GUID but are different links; C's tracking parameter does not make a new item.
    assert titles == ["A", "B", "C"]


def test_malformed_feed_fails_its_source_while_others_ingest(feed_server, write_config, database_url):
    good = feed_server.serve("/good.xml", rss_feed(*ITEMS))
    bad = feed_server.serve("/bad.xml", "<html><body><h1>Sorry, we moved</h1><p>no feed here", Content_Type="text/html")
    down = feed_server.serve("/down.xml", "oops", status=500)
    pipeline, worker = start(write_config([{"id": "good", "kind": "rss", "url": good},
                                           {"id": "bad", "kind": "rss", "url": bad},
                                           {"id": "down", "kind": "rss", "url": down}], database=database_url))
    outcomes = {o.source_id: o for o in worker.tick()}
    assert outcomes["good"].status == "ok" and outcomes["good"].counts.new == 3
    assert outcomes["bad"].status == "failed" and "not a readable feed" in outcomes["bad"].error
    assert outcomes["down"].status == "failed" and "HTTP 500" in outcomes["down"].error
    with pipeline.sessions() as session:
        bad_source = session.get(Source, "bad")
        assert bad_source.error_count == 1 and "not a readable feed" in bad_source.last_error
        assert bad_source.next_check_at > bad_source.last_run_at
    assert count(pipeline.sessions, Item) == 3


def test_items_are_tagged_with_scores_and_evidence(feed_server, write_config, database_url):
    url = feed_server.serve("/feed.xml", rss_feed(*ITEMS))
    pipeline, worker = start(write_config([{"id": "news", "kind": "rss", "url": url}], database=database_url))
    worker.tick(only="news")
    with pipeline.sessions() as session:
        mentions = {(session.get(Item, m.item_id).title, m.prospect_id): m
                    for m in session.scalars(select(Mention))}
    assert ("Siemens AG wins rail signalling contract", "siemens") in mentions
    assert ("Snowflake Inc. launches a new data cloud region", "snowflake") in mentions
    # "first snowflake of the season" is the weather, not the company.
    assert not any(title.startswith("Weather") for title, _ in mentions)
    siemens = mentions[("Siemens AG wins rail signalling contract", "siemens")]
    assert 0 < siemens.score <= 1 and any("title" in e for e in siemens.evidence)


def test_due_sources_only_run_when_due(feed_server, write_config, database_url):
    url = feed_server.serve("/feed.xml", rss_feed(*ITEMS))
    pipeline, worker = start(write_config([{"id": "news", "kind": "rss", "url": url, "every": "1h"}],
                                          database=database_url))
    assert [o.source_id for o in worker.tick()] == ["news"]
    assert worker.tick() == []  # next check is an hour away
    assert len(feed_server.requests_to("/feed.xml")) == 1

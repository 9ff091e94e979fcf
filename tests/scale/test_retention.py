"""Retention: `retention.max_age` prunes old items with their mentions and signals, and old run history."""

from __future__ import annotations

import email.utils
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

import intel.pipeline
from intel.clock import utcnow
from intel.retention import prune_expired
from intel.settings import RetentionConfig
from intel.worker import Worker
from models.tables import Item, Mention, Signal, SourceRun
from tests.conftest import rss_feed, start_pipeline

DAY = 86400


def rfc822(when) -> str:
    return email.utils.format_datetime(when, usegmt=True)


def story(guid: str, published, title: str,
          description: str = "Siemens AG said on Monday it raised $200 million in a funding round.") -> dict:
    return {"title": title, "link": f"https://news.example.com/{guid}", "guid": guid,
            "description": description, "pubDate": rfc822(published)}


def titles(sessions) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(Item.title)))


def children(sessions, title_prefix: str) -> int:
    """Mention and signal rows hanging off items whose title starts with `title_prefix`."""
    with sessions() as session:
        ids = select(Item.id).where(Item.title.startswith(title_prefix))
        return sum(session.scalar(select(func.count()).select_from(model).where(model.item_id.in_(ids)))
                   for model in (Mention, Signal))


@pytest.fixture
def aged_database(feed_server, write_config, database_url, monkeypatch):
    """Two items first seen 300 days ago, then two seen today: one published today, one 200 days ago."""
    now = utcnow()
    long_ago = now - timedelta(days=300)
    url = feed_server.serve("/feed.xml", rss_feed(story("old-1", long_ago - timedelta(days=1), "Old: Siemens AG"),
                                                  story("old-2", long_ago, "Old: Siemens AG again")))
    config = write_config([{"id": "news", "kind": "rss", "url": url}], database=database_url,
                          retention={"max_age": "180d", "every": "1h"})
    pipeline, worker = start_pipeline(config)
    monkeypatch.setattr(intel.pipeline, "utcnow", lambda: long_ago)  # the first run happened 300 days ago
    [first] = worker.tick(only="news")
    monkeypatch.undo()
    feed_server.serve("/feed.xml", rss_feed(story("new-1", now - timedelta(hours=2), "New: Siemens AG"),
                                            story("late-1", now - timedelta(days=200), "Late: Siemens AG")))
    [second] = worker.tick(only="news")
    assert (first.counts.new, second.counts.new) == (2, 2)
    assert children(pipeline.sessions, "Old:") > 0  # the old items were tagged: there is something to prune
    return config, pipeline


def test_config_reads_a_retention_age(write_config):
    assert write_config(retention={"max_age": "180d"}).retention.max_age == 180 * DAY
    assert write_config().retention.max_age is None  # keeping everything is the default


def test_prune_removes_old_items_with_their_mentions_and_signals(aged_database):
    config, pipeline = aged_database
    pruned = prune_expired(pipeline.sessions, config.retention)
    assert (pruned.items, pruned.runs) == (2, 1)
    assert pruned.mentions >= 2
    # An old article seen for the first time today is kept: pruning it would only re-add it next poll.
    assert titles(pipeline.sessions) == {"New: Siemens AG", "Late: Siemens AG"}
    assert children(pipeline.sessions, "Old:") == 0
    assert children(pipeline.sessions, "New:") > 0
    with pipeline.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SourceRun)) == 1  # the latest run stays
    assert prune_expired(pipeline.sessions, config.retention).items == 0  # idempotent


def test_nothing_is_pruned_without_a_retention_age(aged_database):
    _, pipeline = aged_database
    assert prune_expired(pipeline.sessions, RetentionConfig()).items == 0
    assert len(titles(pipeline.sessions)) == 4


def test_a_running_worker_prunes_on_its_own(aged_database):
    config, pipeline = aged_database
    worker = Worker(pipeline, name="pruning-worker")
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(titles(pipeline.sessions)) != 2:
            time.sleep(0.1)
    finally:
        worker.stop()
    assert titles(pipeline.sessions) == {"New: Siemens AG", "Late: Siemens AG"}


def test_a_story_outlives_its_pruned_lead_and_goes_with_its_last_copy(feed_server, write_config, database_url,
                                                                     monkeypatch):
    from models.tables import Story

    now = utcnow()
    long_ago = now - timedelta(days=300)
    # Two different stories, so with summaries of their own (sharing one, they were at Jaccard 0.5: one story).
    lone = story("lone", long_ago, "Lone: Siemens AG opens a plant in Austin",
                 "The Texas site will build switchgear and employ 500 people from next spring.")
    shared = story("shared", long_ago, "Shared: Siemens AG wins a rail contract in Norway",
                   "Bane NOR ordered signalling for 300 km of track, to be delivered by 2029.")
    old_url = feed_server.serve("/old.xml", rss_feed(lone, shared))
    new_url = feed_server.serve("/new.xml", rss_feed(dict(shared, guid="shared-copy")))
    config = write_config([{"id": "old-wire", "kind": "rss", "url": old_url},
                           {"id": "new-wire", "kind": "rss", "url": new_url}], database=database_url,
                          retention={"max_age": "180d"}, tagging={"story_window": "400d"})
    pipeline, worker = start_pipeline(config)
    monkeypatch.setattr(intel.pipeline, "utcnow", lambda: long_ago)
    worker.tick(only="old-wire")
    monkeypatch.undo()
    worker.tick(only="new-wire")  # today another wire carries the shared story: it joins it
    with pipeline.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Story)) == 2

    prune_expired(pipeline.sessions, config.retention)
    with pipeline.sessions() as session:
        stories = session.scalars(select(Story)).all()
        copy = session.scalar(select(Item).where(Item.guid == "shared-copy"))
    assert [s.lead_item_id for s in stories] == [copy.id]  # the lone story went; the shared one is led anew

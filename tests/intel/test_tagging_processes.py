"""tagging.processes: tagging and story fingerprints in child processes give what the worker gives alone."""

from __future__ import annotations

import os
import signal

import pytest
from sqlalchemy import select

from intel.sync import sync_config
from intel.tagging import TaggingModelError, TagInput
from models.tables import Item, Mention, Signal
from tests.conftest import DEFAULT_PROSPECTS, rss_feed, start_pipeline

WIRE = [
    {"title": "Siemens AG wins rail contract in Texas", "link": "https://wire.example.com/siemens-rail",
     "description": "Siemens AG said on Monday it won a $1.2bn contract to build trains for Dallas.",
     "guid": "w1"},
    {"title": "Apple pie recipes for the holidays", "link": "https://wire.example.com/pie",
     "description": "Grandma's apple pie, with a crumble top.", "guid": "w2"},
    {"title": "Snowflake Inc. acquires data startup", "link": "https://wire.example.com/snowflake",
     "description": "Snowflake Inc. (NYSE: SNOW) agreed to acquire a small analytics company for $150 million.",
     "guid": "w3"},
]
# The first wire story, as another site words it: one story with the wire's.
COPY = {"title": "Siemens AG wins rail contract in Texas", "link": "https://daily.example.com/siemens-texas",
        "description": "Siemens AG said on Monday it won a $1.2bn contract to build trains for Dallas, Texas.",
        "guid": "d1"}


def ingest(feed_server, write_config, tmp_path, processes: int):
    wire = feed_server.serve("/wire.xml", rss_feed(*WIRE), **{"Content-Type": "application/rss+xml"})
    daily = feed_server.serve("/daily.xml", rss_feed(COPY), **{"Content-Type": "application/rss+xml"})
    config = write_config(sources=[{"id": "wire", "kind": "rss", "url": wire},
                                   {"id": "daily", "kind": "rss", "url": daily}],
                          database=f"sqlite:///{tmp_path / f'intel-{processes}.db'}",
                          tagging={"processes": processes})
    pipeline, worker = start_pipeline(config)
    try:
        outcomes = worker.tick()
        assert {o.status for o in outcomes} == {"ok"}
        with pipeline.sessions() as session:
            items = {i.id: i for i in session.scalars(select(Item))}
            mentions = sorted((items[m.item_id].guid, m.prospect_id, m.score, tuple(m.evidence))
                              for m in session.scalars(select(Mention)))
            signals = sorted((items[s.item_id].guid, s.type, s.prospect_id, s.role, s.score)
                             for s in session.scalars(select(Signal)))
            stories = sorted(sorted(i.guid for i in items.values() if i.story_id == story)
                             for story in {i.story_id for i in items.values()})
        return mentions, signals, stories
    finally:
        worker.stop()
        pipeline.close()


def test_a_worker_tagging_in_a_child_process_stores_what_it_stores_tagging_itself(feed_server, write_config,
                                                                                  tmp_path):
    alone = ingest(feed_server, write_config, tmp_path, processes=0)
    with_child = ingest(feed_server, write_config, tmp_path, processes=1)
    mentions, signals, stories = with_child
    assert {(guid, pid) for guid, pid, *_ in mentions} >= {("w1", "siemens"), ("w3", "snowflake")}
    assert "w2" not in {guid for guid, *_ in mentions}, "apple pie is no mention of Apple"
    assert ("w3", "acquisition") in {(guid, kind) for guid, kind, *_ in signals}
    assert ["d1", "w1"] in stories, "the copy joined the wire story"
    assert with_child == alone


def test_prospect_changes_reach_the_tagging_process(write_config, tmp_path):
    config = write_config(tagging={"processes": 1})
    pipeline, _ = start_pipeline(config)
    try:
        assert not pipeline.tag([TagInput("Acme Rockets opens a plant in Ohio")])[0].mentions
        acme = {"id": "acme", "name": "Acme Rockets Inc.", "owner": "carol@example.com"}
        sync_config(pipeline.sessions, write_config(prospects=[*DEFAULT_PROSPECTS, acme], tagging={"processes": 1}))
        [result] = pipeline.tag([TagInput("Acme Rockets opens a plant in Ohio")])
        assert [m.prospect_id for m in result.mentions] == ["acme"]
        assert "expansion" in {s.type for s in result.signals}
        sync_config(pipeline.sessions, write_config(prospects=[acme], tagging={"processes": 1}))
        assert not pipeline.tag([TagInput("Siemens AG wins rail contract")])[0].mentions
    finally:
        pipeline.close()


def test_a_killed_tagging_process_is_replaced_and_the_batch_still_tagged(write_config):
    pipeline, _ = start_pipeline(write_config(tagging={"processes": 1}))
    try:
        news = TagInput("Siemens AG wins rail contract in Texas")
        before = pipeline.tag([news])[0]
        [pid] = pipeline.tagging.pids
        os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer would
        after = pipeline.tag([news])[0]
        assert after == before
        assert [m.prospect_id for m in after.mentions] == ["siemens"]
        assert pipeline.tagging.pids != [pid], "a new child took over"
    finally:
        pipeline.close()


def test_a_model_that_is_not_installed_stops_the_worker_at_start_up(write_config):
    config = write_config(tagging={"processes": 1, "model": "no_such_spacy_pipeline"})
    with pytest.raises(TaggingModelError, match="no_such_spacy_pipeline"):
        start_pipeline(config)

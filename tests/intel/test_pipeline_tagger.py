"""The worker's tagger follows the prospect list in the database without a rebuild from scratch."""

from __future__ import annotations

from intel.sync import sync_config
from intel.tagging import TagInput
from tests.conftest import DEFAULT_PROSPECTS, start_pipeline


def test_prospect_changes_reach_the_running_tagger_in_place(write_config):
    config = write_config()
    pipeline, _ = start_pipeline(config)
    tagger = pipeline.tagger()
    assert not pipeline.tag([TagInput("Acme Rockets opens a plant in Ohio")])[0].mentions

    acme = {"id": "acme", "name": "Acme Rockets Inc.", "owner": "carol@example.com"}
    sync_config(pipeline.sessions, write_config(prospects=[*DEFAULT_PROSPECTS, acme]))
    [result] = pipeline.tag([TagInput("Acme Rockets opens a plant in Ohio")])
    assert pipeline.tagger() is tagger, "updated in place, not rebuilt"
    assert [m.prospect_id for m in result.mentions] == ["acme"]
    assert "expansion" in {s.type for s in result.signals}

    sync_config(pipeline.sessions, write_config(prospects=[acme]))
    assert not pipeline.tag([TagInput("Siemens AG wins rail contract")])[0].mentions

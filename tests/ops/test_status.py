"""`intel status`: sources, prospects per owner and stage, and the latest runs."""

from __future__ import annotations

from typer.testing import CliRunner

from intel.cli import app
from tests.conftest import rss_feed, start_pipeline


def test_status_shows_sources_prospects_and_runs(write_config, feed_server, tmp_path):
    feed_server.serve("/ok.xml", rss_feed({"title": "Apple Inc. opens a campus", "link": "https://n.example.com/1",
                                           "guid": "1", "description": "Apple Inc. (AAPL) grows."}))
    feed_server.serve("/gone.xml", "no", status=500)
    config = write_config(sources=[{"id": "good-news", "kind": "rss", "url": feed_server.url("/ok.xml")},
                                   {"id": "flaky-news", "kind": "rss", "url": feed_server.url("/gone.xml")}])
    pipeline, worker = start_pipeline(config)
    try:
        worker.tick()
    finally:
        worker.stop()
        pipeline.close()

    result = CliRunner().invoke(app, ["status", "--config", str(tmp_path / "intel.yaml")],
                                env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    good = next(line for line in lines if "good-news" in line)
    flaky = next(line for line in lines if "flaky-news" in line and "│" in line)
    assert "ok" in good and "failing" in flaky and "HTTP 500" in flaky
    # alice owns apple (qualifying) and snowflake (delivering); bob owns siemens (prospecting).
    alice = next(line for line in lines if line.startswith("│ alice@example.com"))
    cells = [c.strip() for c in alice.strip("│").split("│")]
    header = next(line for line in lines if "owner" in line and "total" in line)
    columns = [c.strip() for c in header.strip("┃").split("┃")]
    row = dict(zip(columns, cells))
    assert row["qualifying"] == "1" and row["delivering"] == "1" and row["total"] == "2"
    assert "Latest runs" in result.output
    assert sum("flaky-news" in line and "failed" in line for line in lines) == 1

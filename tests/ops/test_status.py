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


def test_a_long_fetch_shows_progress_on_a_terminal_only(write_config, feed_server):
    import io

    from rich.console import Console

    from intel.progress import source_run_progress

    for n in range(3):
        feed_server.serve(f"/f{n}.xml", rss_feed({"title": f"story {n}", "guid": str(n)}))
    config = write_config(sources=[{"id": f"feed-{n}", "kind": "rss", "url": feed_server.url(f"/f{n}.xml")}
                                   for n in range(3)])
    pipeline, worker = start_pipeline(config)
    terminal = io.StringIO()
    try:
        with source_run_progress(pipeline, console=Console(file=terminal, force_terminal=True, width=100)):
            outcomes = worker.tick()
        assert len(outcomes) == 3
        assert "3/3" in terminal.getvalue() and "fetched feed-" in terminal.getvalue()
        assert "run_source" not in vars(pipeline)  # the counting wrapper is gone afterwards

        piped = io.StringIO()  # not a terminal (CI, a pipe): no bar at all
        with source_run_progress(pipeline, only="feed-0", console=Console(file=piped, force_terminal=False)):
            worker.tick(only="feed-0")
        assert piped.getvalue() == ""
    finally:
        worker.stop()
        pipeline.close()

"""Polite fetching as a source run sees it: validators, hints, 301/410, health records."""

from __future__ import annotations

from datetime import timedelta

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from intel.cli import app, console as cli_console
from intel.config import load_config
from intel.sync import sync_config
from models.tables import Source, SourceRun
from tests.conftest import rss_feed, start_pipeline as start

FEED = rss_feed({"title": "Siemens AG opens a plant in Texas", "link": "https://news.example.com/1", "guid": "1"},
                {"title": "Weather today", "link": "https://news.example.com/2", "guid": "2"})


def source_row(pipeline, source_id: str) -> Source:
    with pipeline.sessions() as session:
        return session.get(Source, source_id)


def runs(pipeline, source_id: str) -> list[SourceRun]:
    with pipeline.sessions() as session:
        return list(session.scalars(select(SourceRun).where(SourceRun.source_id == source_id)
                                    .order_by(SourceRun.id)))


def test_validators_are_stored_verbatim_and_echoed(feed_server, write_config, database_url):
    etag = 'W/"3f-9a;gzip"'
    modified = "Tue, 03 Nov 2026 08:00:00 GMT"
    url = feed_server.serve("/feed", FEED, ETag=etag, Last_Modified=modified)
    pipeline, worker = start(write_config([{"id": "news", "kind": "rss", "url": url}], database=database_url))
    assert worker.tick(only="news")[0].counts.new == 2
    assert (source_row(pipeline, "news").etag, source_row(pipeline, "news").last_modified) == (etag, modified)
    feed_server.serve("/feed", "server error", status=500)  # a failure must not drop the validators
    assert worker.tick(only="news")[0].status == "failed"
    feed_server.serve("/feed", FEED, ETag=etag, Last_Modified=modified)
    assert worker.tick(only="news")[0].status == "not_modified"
    for request in feed_server.requests_to("/feed")[1:]:
        assert request.headers["if-none-match"] == etag
        assert request.headers["if-modified-since"] == modified


def test_retry_after_pushes_the_next_check_out(feed_server, write_config):
    url = feed_server.serve("/feed", "busy", status=429, Retry_After="7200")
    pipeline, worker = start(write_config([{"id": "news", "kind": "rss", "url": url, "every": "5m"}]))
    [outcome] = worker.tick(only="news")
    row = source_row(pipeline, "news")
    assert outcome.status == "failed" and "429" in outcome.error
    assert row.next_check_at - row.last_run_at >= timedelta(seconds=7200)
    assert runs(pipeline, "news")[-1].http_status == 429


def test_cache_control_max_age_is_a_floor_for_the_next_check(feed_server, write_config):
    url = feed_server.serve("/feed", FEED, Cache_Control="public, max-age=10800")
    pipeline, worker = start(write_config([{"id": "news", "kind": "rss", "url": url, "every": "5m"}]))
    worker.tick(only="news")
    row = source_row(pipeline, "news")
    assert row.next_check_at - row.last_run_at >= timedelta(seconds=10800)


def test_gone_disables_the_source_with_a_visible_reason(feed_server, write_config, tmp_path, monkeypatch):
    url = feed_server.serve("/feed", "gone", status=410)
    config = write_config([{"id": "news", "kind": "rss", "url": url}])
    pipeline, worker = start(config)
    worker.tick(only="news")
    row = source_row(pipeline, "news")
    assert not row.enabled and "410" in row.disabled_reason
    assert worker.tick() == []  # never polled again
    assert len(feed_server.requests_to("/feed")) == 1
    monkeypatch.setattr(cli_console, "width", 400)  # rich sizes its table to the terminal
    table = CliRunner().invoke(app, ["sources", "--config", str(tmp_path / "intel.yaml")])
    assert table.exit_code == 0 and "gone for good (HTTP 410)" in table.output
    from api.app import create_app
    from api.settings import ApiSettings

    api = TestClient(create_app(ApiSettings(database=config.database, public_url="http://testserver", auth_required=False), pipeline.sessions))
    [health] = api.get("/api/v1/sources").json()
    assert health["enabled"] is False and "410" in health["disabled_reason"]
    assert health["last_http_status"] == 410


def test_a_permanent_redirect_moves_the_stored_url_and_config_sync_keeps_it(feed_server, write_config, tmp_path):
    old = feed_server.serve("/old", status=301, Location=feed_server.url("/new"))
    feed_server.serve("/new", FEED)
    feed_server.serve("/temp", status=302, Location=feed_server.url("/new"))
    config = write_config([{"id": "moved", "kind": "rss", "url": old},
                           {"id": "temporary", "kind": "rss", "url": feed_server.url("/temp")}])
    pipeline, worker = start(config)
    worker.tick()
    assert source_row(pipeline, "moved").url == feed_server.url("/new")
    assert source_row(pipeline, "temporary").url == feed_server.url("/temp")  # 302: not moved
    sync_config(pipeline.sessions, config)  # a restart with the same config
    assert source_row(pipeline, "moved").url == feed_server.url("/new")
    worker.tick(only="moved")
    assert len(feed_server.requests_to("/old")) == 1
    # Only a new URL in config replaces the moved one.
    path = tmp_path / "intel.yaml"
    data = yaml.safe_load(path.read_text())
    data["sources"][0]["url"] = feed_server.url("/elsewhere")
    path.write_text(yaml.safe_dump(data))
    sync_config(pipeline.sessions, load_config(path))
    assert source_row(pipeline, "moved").url == feed_server.url("/elsewhere")


def test_user_agent_names_the_project_its_version_and_the_contact(feed_server, write_config):
    from connectors.http import __version__

    url = feed_server.serve("/feed", FEED)
    _, worker = start(write_config([{"id": "news", "kind": "rss", "url": url}],
                                   http={"contact": "ops@example.com"}))
    worker.tick(only="news")
    agent = feed_server.requests_to("/feed")[0].headers["user-agent"]
    assert agent.startswith(f"prospect-intel/{__version__} (") and "ops@example.com" in agent


def test_every_run_records_status_http_status_counts_bytes_duration_and_error(feed_server, write_config,
                                                                             database_url):
    url = feed_server.serve("/feed", FEED, Content_Type="application/rss+xml")
    pipeline, worker = start(write_config([{"id": "news", "kind": "rss", "url": url}], database=database_url))
    worker.tick(only="news")
    worker.tick(only="news")
    feed_server.serve("/feed", "<html>not a feed</html>")
    worker.tick(only="news")
    first, second, third = runs(pipeline, "news")
    assert (first.status, first.http_status, first.items_new, first.items_seen) == ("ok", 200, 2, 0)
    assert first.bytes_read == len(FEED.encode()) and first.duration_ms >= 0 and first.error is None
    assert (second.items_new, second.items_seen) == (0, 2)
    assert third.status == "failed" and "not a readable feed" in third.error

"""`intel run` / `intel worker` pick up config edits (files polled, or SIGHUP); a bad edit is refused."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from intel.config import load_config
from intel.service import WorkerService
from models import repository
from models.db import make_engine, make_sessionmaker, upgrade
from intel.sync import sync_config
from tests.conftest import DEFAULT_PROSPECTS, rss_feed

ROOT = Path(__file__).resolve().parents[2]


def eventually(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def write(path: Path, data: dict) -> None:
    # A new mtime even on filesystems with coarse timestamps: the size changes too, or we bump it.
    before = path.stat().st_mtime_ns if path.exists() else 0
    partial = path.with_name(path.name + ".partial")  # renamed into place, as careful editors do
    partial.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    if partial.stat().st_mtime_ns <= before:
        os.utime(partial, ns=(before + 1_000_000, before + 1_000_000))
    partial.replace(path)


def base_config(tmp_path: Path, feed_server, sources: list[dict], **extra) -> dict:
    return {"database": f"sqlite:///{tmp_path / 'intel.db'}", "scheduler": {"tick": "0.2s"},
            "prospect_files": ["prospects/*.yaml"],
            "sources": [{"allow_private": True, "kind": "rss", **s} for s in sources], **extra}


def start(tmp_path: Path, data: dict) -> WorkerService:
    path = tmp_path / "intel.yaml"
    write(path, data)
    config = load_config(path)
    engine = make_engine(config.database)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    sync_config(sessions, config)
    service = WorkerService(path, config, sessions, poll_seconds=0.1)
    service.start()
    return service


def source_ids(service: WorkerService) -> set[str]:
    with service.sessions() as session:
        return {row["id"] for row in repository.sources_health(session) if row["enabled"]}


def prospect_ids(service: WorkerService) -> set[str]:
    with service.sessions() as session:
        return {p.id for p in repository.active_prospects(session)}


def test_an_edited_config_is_synced_and_its_new_source_fetched(tmp_path, feed_server):
    (tmp_path / "prospects").mkdir()
    write(tmp_path / "prospects" / "a.yaml", DEFAULT_PROSPECTS[:1])
    feed_server.serve("/one.xml", rss_feed({"title": "one", "guid": "1"}))
    feed_server.serve("/two.xml", rss_feed({"title": "two", "guid": "2"}))
    data = base_config(tmp_path, feed_server, [{"id": "one", "url": feed_server.url("/one.xml")}])
    service = start(tmp_path, data)
    try:
        assert eventually(lambda: feed_server.requests_to("/one.xml"))
        data["sources"].append({"allow_private": True, "kind": "rss", "id": "two", "url": feed_server.url("/two.xml")})
        write(tmp_path / "intel.yaml", data)

        assert eventually(lambda: source_ids(service) == {"one", "two"})
        assert eventually(lambda: feed_server.requests_to("/two.xml"))  # the running worker picked it up
        assert service.reloads == 1

        # A prospect file changes: new prospects reach the database (and the tagger, which reads it).
        write(tmp_path / "prospects" / "a.yaml", DEFAULT_PROSPECTS)
        assert eventually(lambda: prospect_ids(service) == {"apple", "siemens", "snowflake"})
        # A new file matching the glob counts as well.
        write(tmp_path / "prospects" / "b.yaml", [{"id": "acme", "name": "Acme Corporation"}])
        assert eventually(lambda: "acme" in prospect_ids(service))
    finally:
        service.stop()


def test_an_invalid_edit_is_reported_and_the_running_config_kept(tmp_path, feed_server, caplog):
    (tmp_path / "prospects").mkdir()
    write(tmp_path / "prospects" / "a.yaml", DEFAULT_PROSPECTS)
    feed_server.serve("/one.xml", rss_feed({"title": "one", "guid": "1"}))
    data = base_config(tmp_path, feed_server, [{"id": "one", "url": feed_server.url("/one.xml")}])
    service = start(tmp_path, data)
    try:
        broken = dict(data, sources=[{"allow_private": True, "kind": "rss", "id": "one",
                                      "url": feed_server.url("/one.xml"), "every": "soon"}])
        with caplog.at_level(logging.ERROR, logger="intel.service"):
            write(tmp_path / "intel.yaml", broken)
            assert eventually(lambda: service.last_problems)
        problem = service.last_problems[0]
        # The same FILE:LINE:COL: field: message lines as `intel check`.
        assert problem.startswith(f"{tmp_path / 'intel.yaml'}:") and "sources.0.every" in problem
        assert "not a duration" in problem
        assert "still running the previous config" in caplog.text and "sources.0.every" in caplog.text
        assert service.config.sources[0].every is None and service.reloads == 0
        assert source_ids(service) == {"one"}

        # Fixed: the next version is taken.
        fixed = dict(data, sources=[{"allow_private": True, "kind": "rss", "id": "one",
                                     "url": feed_server.url("/one.xml"), "every": "2h"}])
        write(tmp_path / "intel.yaml", fixed)
        assert eventually(lambda: service.reloads == 1)
        assert service.config.sources[0].every == 7200 and service.last_problems == []
    finally:
        service.stop()


def test_scheduler_changes_restart_the_worker_and_alert_rules_start_deliveries(tmp_path, feed_server, monkeypatch):
    (tmp_path / "prospects").mkdir()
    write(tmp_path / "prospects" / "a.yaml", DEFAULT_PROSPECTS)
    data = base_config(tmp_path, feed_server, [])
    started = []

    def factory(config, sessions):
        from intel.pipeline import Pipeline
        from intel.worker import Worker
        worker = Worker(Pipeline(config, sessions))
        started.append(worker)
        return worker

    path = tmp_path / "intel.yaml"
    write(path, data)
    config = load_config(path)
    engine = make_engine(config.database)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    service = WorkerService(path, config, sessions, poll_seconds=0.1, worker_factory=factory)
    service.start()
    try:
        write(path, dict(data, scheduler={"tick": "0.5s"}))
        assert eventually(lambda: service.reloads == 1)
        assert len(started) == 2 and started[1].policy.tick == 0.5
        assert service._alerts is None
        monkeypatch.setenv("HOOK_SECRET", "k" * 12)
        write(path, dict(data, scheduler={"tick": "0.5s"}, alerts={
            "webhooks": [{"name": "hook", "format": "json", "url": feed_server.url("/hook"),
                          "secret": "${HOOK_SECRET}"}],
            "rules": [{"name": "all-funding", "signal": ["funding"], "send_to": ["hook"]}]}))
        assert eventually(lambda: service.reloads == 2)
        assert len(started) == 2  # alert rules alone need no new worker
        assert service._alerts is not None and service._alerts.config.rules[0].name == "all-funding"
    finally:
        service.stop()


def test_intel_worker_reloads_on_sighup(tmp_path, feed_server):
    (tmp_path / "prospects").mkdir()
    write(tmp_path / "prospects" / "a.yaml", DEFAULT_PROSPECTS)
    data = base_config(tmp_path, feed_server, [])
    write(tmp_path / "intel.yaml", data)
    worker = subprocess.Popen([sys.executable, "-m", "intel.cli", "worker", "--config", str(tmp_path / "intel.yaml"),
                               "--log-format", "json"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(worker.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        assert eventually(lambda: any("SIGHUP reloads at once" in line for line in lines), timeout=60)
        worker.send_signal(signal.SIGHUP)
        assert eventually(lambda: any("config reloaded (SIGHUP)" in line for line in lines))
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        reader.join(timeout=5)
    stderr = "".join(lines)
    assert worker.returncode == 0, stderr
    assert '"config reloaded (SIGHUP)' in stderr

"""Logs: readable or JSON lines, and never a token or a secret."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from intel.logging_setup import register_secrets, setup_logging
from models.db import make_engine, upgrade
from tests.conftest import DEFAULT_PROSPECTS, rss_feed

INTEL = [sys.executable, "-m", "intel.cli"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_lines_are_one_object_per_line(restore_logging):
    out = io.StringIO()
    setup_logging("INFO", "json", stream=out)
    logging.getLogger("intel.test").info("source %s: %d new", "news", 3)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("intel.test").exception("it failed")
    lines = out.getvalue().splitlines()
    first = json.loads(lines[0])
    assert first["level"] == "info" and first["logger"] == "intel.test" and first["message"] == "source news: 3 new"
    assert first["time"].endswith("Z")
    second = json.loads(lines[1])  # the traceback stays inside its one line
    assert len(lines) == 2 and "ValueError: boom" in second["exception"]


def test_text_is_the_readable_default(restore_logging):
    out = io.StringIO()
    setup_logging(stream=out)
    logging.getLogger("intel.test").warning("source %s failed", "news")
    line = out.getvalue().strip()
    assert "WARNING" in line and "intel.test: source news failed" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_tokens_and_secrets_never_reach_the_log(restore_logging, log_format):
    out = io.StringIO()
    setup_logging("INFO", log_format, stream=out)
    register_secrets(["https://hooks.slack.com/services/T000/B000/XXXXSECRET", "hmac-key-123456"])
    log = logging.getLogger("uvicorn.access")
    log.info('%s - "%s %s HTTP/1.1" %d', "127.0.0.1", "GET",
             "/feeds/users/alice.atom?limit=5&token=pit_AbCdEfGhIjKlMnOp", 200)
    log.info("headers: {'authorization': 'Bearer pit_ZyXwVuTsRqPoNm'}")
    log.info("Authorization: Bearer abc.def.ghi")
    logging.getLogger("intel.alerts").warning("posting to https://hooks.slack.com/services/T000/B000/XXXXSECRET")
    try:
        raise RuntimeError("signing with hmac-key-123456 failed for /x?token=pit_InTraceback123")
    except RuntimeError:
        logging.getLogger("intel").exception("oops")
    text = out.getvalue()
    for secret in ("pit_AbCdEfGhIjKlMnOp", "pit_ZyXwVuTsRqPoNm", "abc.def.ghi", "XXXXSECRET", "hmac-key-123456",
                   "pit_InTraceback123"):
        assert secret not in text
    assert "token=[redacted]" in text and "limit=5" in text  # the rest of the line stays useful
    assert "/feeds/users/alice.atom" in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_intel_serve_writes_json_access_logs_without_tokens(tmp_path, feed_server):
    """The real server: uvicorn's access log goes through our JSON formatter and redaction."""
    port = _free_port()
    config = tmp_path / "intel.yaml"
    config.write_text(yaml.safe_dump({
        "database": f"sqlite:///{tmp_path / 'intel.db'}", "server": {"host": "127.0.0.1", "port": port},
        "prospects": DEFAULT_PROSPECTS, "sources": []}), encoding="utf-8")
    upgrade(make_engine(f"sqlite:///{tmp_path / 'intel.db'}"))  # `serve` does not migrate
    server = subprocess.Popen(INTEL + ["serve", "--config", str(config), "--log-format", "json"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        answer = httpx.get(base + "/feeds/users/alice@example.com.atom?token=pit_ShouldNeverBeLogged42")
        assert answer.status_code == 404  # an unknown token
        httpx.get(base + "/healthz", headers={"Authorization": "Bearer pit_HeaderTokenNeverLogged"})
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=15)
    lines = [line for line in stderr.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any("/feeds/users/" in r["message"] and "?token=[redacted]" in r["message"] for r in access), access
    assert "pit_ShouldNeverBeLogged42" not in stderr and "pit_HeaderTokenNeverLogged" not in stderr

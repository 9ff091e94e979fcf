"""`intel tokens create|list|revoke`, hashed storage, and tokens kept out of server logs."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from intel.cli import _api_app, _prepare, app as intel_app

runner = CliRunner()


def intel(*args: str):
    return runner.invoke(intel_app, list(args), catch_exceptions=False)


@pytest.fixture
def config_path(write_config, database_url, tmp_path):
    write_config(database=database_url)
    return str(tmp_path / "intel.yaml")


def test_create_prints_the_token_last_and_stores_only_its_hash(config_path, write_config, database_url):
    created = intel("tokens", "create", "--user", "Alice@Example.com", "--config", config_path)
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("pit_") and len(token) >= 4 + 43  # 256 random bits, base64url
    with create_engine(database_url).connect() as connection:
        rows = connection.execute(text("SELECT token_hash, \"user\", internal, all_prospects FROM api_tokens")).all()
    assert len(rows) == 1 and token not in str(rows) and rows[0][1] == "alice@example.com"
    assert (rows[0][2], rows[0][3]) == (False, False)
    config = write_config(database=database_url)
    with TestClient(_api_app(config, _prepare(config))) as client:
        assert client.get("/feeds/prospects/apple.atom", params={"token": token}).status_code == 200
        assert client.get("/feeds/prospects/siemens.atom", params={"token": token}).status_code == 404  # Bob's


def test_list_shows_ids_and_scopes_never_tokens_and_revoke_closes_feeds(config_path, write_config, database_url):
    first = intel("tokens", "create", "--user", "alice@example.com", "--internal", "--config", config_path)
    second = intel("tokens", "create", "--user", "boss@example.com", "--all-prospects", "--admin",
                   "--config", config_path)
    tokens = [r.output.strip().splitlines()[-1] for r in (first, second)]
    listing = intel("tokens", "list", "--config", config_path)
    assert listing.exit_code == 0
    assert not any(t in listing.output or t[4:20] in listing.output for t in tokens)
    assert "alice@example.com" in listing.output and "internal" in listing.output and "admin" in listing.output
    config = write_config(database=database_url)
    with TestClient(_api_app(config, _prepare(config))) as client:
        assert client.get("/feeds/users/alice@example.com.rss", params={"token": tokens[0]}).status_code == 200
        assert intel("tokens", "revoke", "1", "--config", config_path).exit_code == 0  # by id
        assert client.get("/feeds/users/alice@example.com.rss", params={"token": tokens[0]}).status_code == 404
        assert intel("tokens", "revoke", tokens[1], "--config", config_path).exit_code == 0  # by the token
        assert client.get("/api/v1/sources", headers={"Authorization": f"Bearer {tokens[1]}"}).status_code == 404
    assert intel("tokens", "revoke", "999", "--config", config_path).exit_code == 2
    rows = intel("tokens", "list", "--config", config_path).output.strip().splitlines()[1:]
    assert len(rows) == 2 and all(len(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", r)) == 2 for r in rows)  # both revoked


def test_tokens_never_reach_the_access_log(write_config, database_url, capfd):
    config = write_config(database=database_url)
    secret = "pit_" + "S3cr3t" * 8
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(_api_app(config, _prepare(config)), log_level="info", access_log=True, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        assert httpx.get(f"{base}/feeds/prospects/apple.atom?token={secret}&limit=5").status_code == 404
        assert httpx.get(f"{base}/api/v1/items", headers={"Authorization": f"Bearer {secret}"}).status_code == 404
        logging.getLogger("uvicorn.error").info("client sent %s", secret)  # any uvicorn log line
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    logged = "".join(capfd.readouterr())
    assert "/feeds/prospects/apple.atom?token=[redacted]&limit=5" in logged  # the request was logged…
    assert "S3cr3t" not in logged  # …without its token

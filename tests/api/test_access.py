"""Who sees what: tokens, scopes, 404s that confirm nothing, internal items kept internal."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import feedparser
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from models import tokens
from tests.api.conftest import SECRET_NOTE, make_settings

FEEDS_OF_ALICE = ["/feeds/prospects/apple.atom", "/feeds/prospects/apple.rss", "/feeds/prospects/apple.json",
                  "/feeds/users/alice@example.com.atom", "/feeds/users/alice@example.com.rss",
                  "/feeds/users/alice@example.com.json", "/feeds/users/alice@example.com.opml",
                  "/feeds/channels/deals.atom"]


def test_feeds_and_api_need_a_token_and_say_only_404(client):
    for path in FEEDS_OF_ALICE + ["/api/v1/prospects", "/api/v1/items", "/api/v1/prospects/apple"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 404
        wrong = client.get(path, params={"token": "pit_" + "x" * 43})
        assert wrong.status_code == 404 and wrong.json() == response.json(), path  # indistinguishable


def test_query_token_and_bearer_header_open_the_same_feed(client):
    secret = client.seeded.tokens["alice"]
    by_query = client.get("/feeds/prospects/apple.json", params={"token": secret})
    by_header = client.get("/feeds/prospects/apple.json", headers={"Authorization": f"Bearer {secret}"})
    assert by_query.status_code == by_header.status_code == 200
    titles = [i["title"] for i in json.loads(by_query.content)["items"]]
    assert titles == [i["title"] for i in json.loads(by_header.content)["items"]]
    assert "Apple raises $5B in bond funding" in titles
    assert by_query.headers["cache-control"].startswith("private")


def test_a_feed_outside_the_tokens_scope_is_404_like_a_missing_one(client):
    alice, bob = client.seeded.tokens["alice"], client.seeded.tokens["bob"]
    assert client.get("/feeds/prospects/siemens.atom", params={"token": alice}).status_code == 404
    assert client.get("/feeds/prospects/siemens.atom", params={"token": bob}).status_code == 200
    assert client.get("/feeds/users/alice@example.com.atom", params={"token": bob}).status_code == 404
    assert client.get("/feeds/users/alice@example.com.opml", params={"token": bob}).status_code == 404
    assert client.get("/api/v1/prospects/siemens", params={"token": alice}).status_code == 404
    assert client.get("/api/v1/prospects/lookup", params={"domain": "siemens.com", "token": alice}).status_code == 404
    listed = client.get("/api/v1/prospects", params={"token": alice}).json()
    assert {p["id"] for p in listed["prospects"]} == {"apple", "snowflake"}
    # An all-prospects token reads anyone's bundle.
    manager = client.seeded.tokens["manager"]
    assert client.get("/feeds/users/bob@example.com.atom", params={"token": manager}).status_code == 200


def test_revoked_token_gets_404_everywhere(client):
    secret = client.seeded.tokens["alice"]
    assert client.get("/feeds/prospects/apple.atom", params={"token": secret}).status_code == 200
    with client.seeded.sessions.begin() as session:
        assert tokens.revoke_token(session, secret, now=datetime.now(timezone.utc)) is not None
    for path in FEEDS_OF_ALICE + ["/api/v1/items"]:
        assert client.get(path, params={"token": secret}).status_code == 404, path
        assert client.get(path, headers={"Authorization": f"Bearer {secret}"}).status_code == 404, path


def _everything_seen(client, secret: str) -> str:
    """Every answer a token can get that could carry an item, concatenated."""
    paths = FEEDS_OF_ALICE + [
        "/feeds/channels/everything.json", "/api/v1/items", "/api/v1/items?q=budget",
        "/api/v1/prospects/apple", "/api/v1/prospects/apple/items", "/api/v1/prospects/lookup?domain=apple.com",
        "/feeds/prospects/apple.json?q=budget"]
    answers = []
    for path in paths:
        response = client.get(path, params={"token": secret})
        if response.status_code == 200:
            answers.append(response.text)
    return "\n".join(answers)


def test_external_token_never_sees_an_internal_item(client):
    seen = _everything_seen(client, client.seeded.tokens["alice"])
    assert "Apple raises $5B" in seen  # the token works…
    assert "Call notes" not in seen and SECRET_NOTE not in seen  # …but internal notes never show
    found = client.get("/api/v1/items", params={"q": "budget", "token": client.seeded.tokens["alice"]}).json()
    assert found["items"] == []  # not even as a search hit
    summary = client.get("/api/v1/prospects/apple", params={"token": client.seeded.tokens["alice"]}).json()["summary"]
    assert summary["mentions_30_days"] == 2  # n1, n4 — not the internal note


def test_internal_token_sees_internal_items(client):
    seen = _everything_seen(client, client.seeded.tokens["alice_internal"])
    assert "Call notes: Apple procurement" in seen and SECRET_NOTE in seen
    summary = client.get("/api/v1/prospects/apple",
                         params={"token": client.seeded.tokens["alice_internal"]}).json()["summary"]
    assert summary["mentions_30_days"] == 3


def test_bundle_entries_never_name_other_peoples_prospects(client):
    feed = feedparser.parse(client.get("/feeds/users/alice@example.com.atom",
                                       params={"token": client.seeded.tokens["alice"]}).content)
    shared = next(e for e in feed.entries if e.title.startswith("Snowflake and Siemens"))
    terms = {t.term for t in shared.tags}
    assert "snowflake" in terms and "siemens" not in terms
    assert "Siemens AG" not in shared.summary.split("—")[0]  # the why line names only her prospect


def test_only_admin_tokens_open_ops_views(client):
    assert client.get("/api/v1/sources", params={"token": client.seeded.tokens["alice"]}).status_code == 404
    sources = client.get("/api/v1/sources", params={"token": client.seeded.tokens["manager"]})
    assert sources.status_code == 200 and {s["id"] for s in sources.json()} == {"news", "crm-notes"}


def test_every_response_carries_no_referrer(client):
    secret = client.seeded.tokens["alice"]
    for path, params in [("/feeds/prospects/apple.atom", {"token": secret}), ("/feeds/prospects/apple.atom", {}),
                         ("/healthz", {}), ("/openapi.json", {}), ("/api/v1/items", {"limit": "0"})]:
        response = client.get(path, params=params)
        assert response.headers["referrer-policy"] == "no-referrer", path


def test_auth_off_serves_without_token_but_still_hides_internal_items(seeded):
    app = create_app(make_settings(seeded.url, auth_required=False), seeded.sessions)
    with TestClient(app, base_url="http://feeds.test") as open_client:
        response = open_client.get("/feeds/prospects/apple.json")
        assert response.status_code == 200
        assert "Apple raises" in response.text and SECRET_NOTE not in response.text
        assert open_client.get("/feeds/prospects/apple.json", params={"token": "pit_wrong"}).status_code == 404


def test_config_refuses_auth_off_unless_the_server_binds_to_loopback(write_config):
    from intel.config import ConfigError

    assert write_config(auth={"required": False}).auth.required is False  # default host 127.0.0.1
    with pytest.raises(ConfigError, match="loopback"):
        write_config(auth={"required": False}, server={"host": "0.0.0.0", "port": 8000})
    assert write_config(server={"host": "0.0.0.0", "port": 8000}).auth.required is True

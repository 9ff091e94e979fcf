"""`stage=`: what helps a sales stage, per the signal taxonomy and the config's `signals:` overrides.

Served by a real uvicorn on loopback, from an app built the way `intel serve` builds it
(config file -> `ApiSettings`), over SQLite and PostgreSQL.
"""

from __future__ import annotations

import socket
from contextlib import contextmanager
from datetime import timedelta

import feedparser
import httpx
import pytest
import yaml

from intel.cli import _api_app
from intel.config import load_config
from models import repository
from tests.api.conftest import NOW, PROSPECTS, news_item, on_loopback

ALICE_BUNDLE = "/feeds/users/alice@example.com.atom"
# Alice owns apple (qualifying) and snowflake (delivering); her five external items, newest first:
TIM_COOK, FUNDING, PARIS, PARTNER, ACQUIRE = ("Tim Cook names a new Apple CFO", "Apple raises $5B in bond funding",
                                              "Snowflake opens a Paris region",
                                              "Snowflake and Siemens partner on industrial data",
                                              "Apple to acquire a small AI start-up")
SIEMENS_WIN = "Siemens AG wins rail signalling contract"


@contextmanager
def serving(app):
    """The app on a real loopback HTTP server; yields an httpx client for it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        with on_loopback(app, sock), \
                httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=30) as http:
            yield http
    finally:
        sock.close()


def app_from_config(tmp_path, url: str, **extra):
    """The API as `intel serve` builds it from a config file (auth off: loopback demo)."""
    path = tmp_path / "intel.yaml"
    path.write_text(yaml.safe_dump({"database": url, "server": {"host": "127.0.0.1", "port": 8000},
                                    "auth": {"required": False}, **extra}), encoding="utf-8")
    return _api_app(load_config(path))


def titles(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [e.title for e in feedparser.parse(response.content).entries]


def stages(http, path: str, *values: str) -> list[str]:
    return titles(http.get(path, params=[("stage", v) for v in values]))


def test_stage_keeps_items_with_a_signal_that_helps_that_stage(seeded, tmp_path):
    with serving(app_from_config(tmp_path, seeded.url)) as http:
        # expansion and acquisition help delivering; funding, a new CFO and a partnership do not
        assert stages(http, ALICE_BUNDLE, "delivering") == [PARIS, ACQUIRE]
        assert stages(http, ALICE_BUNDLE, "qualifying") == [TIM_COOK, FUNDING, PARIS, PARTNER, ACQUIRE]
        assert stages(http, ALICE_BUNDLE, "closing") == []  # no earnings, no distress
        assert stages(http, ALICE_BUNDLE, "closing", "delivering") == [PARIS, ACQUIRE]  # any of them
        assert stages(http, "/feeds/prospects/apple.atom", "pricing") == [FUNDING]
        # The JSON items API reads the parameter the same way (over every prospect: Siemens' contract win too).
        items = http.get("/api/v1/items", params={"stage": "delivering"}).json()["items"]
        assert [i["title"] for i in items] == [PARIS, SIEMENS_WIN, ACQUIRE]


def test_stage_current_filters_each_prospect_by_the_stage_it_is_in(seeded, tmp_path):
    channel = {"name": "now", "title": "What helps each account now", "stage": ["current"], "prospects": "all"}
    with serving(app_from_config(tmp_path, seeded.url, channels=[channel])) as http:
        # apple (qualifying): all three of its items help; snowflake (delivering): the new region does,
        # the partnership (which helps prospecting, qualifying, proposing) does not.
        assert stages(http, ALICE_BUNDLE, "current") == [TIM_COOK, FUNDING, PARIS, ACQUIRE]
        # A channel can say the same in the config (over every prospect: siemens is prospecting).
        assert titles(http.get("/feeds/channels/now.atom")) == [TIM_COOK, FUNDING, PARIS, SIEMENS_WIN, PARTNER,
                                                                ACQUIRE]
        first = http.get(ALICE_BUNDLE, params={"stage": "current"})
        # Apple moves on to delivering: its feed now keeps what helps delivering, and says so in its validators.
        moved = [dict(p, stage="delivering") if p["id"] == "apple" else p for p in PROSPECTS]
        with seeded.sessions.begin() as session:
            repository.sync_prospects(session, moved, origin="config", now=NOW)
        assert http.get(ALICE_BUNDLE, params={"stage": "current"},
                        headers={"If-None-Match": first.headers["etag"]}).status_code == 200
        assert stages(http, ALICE_BUNDLE, "current") == [PARIS, ACQUIRE]
        assert titles(http.get("/feeds/channels/now.atom")) == [PARIS, SIEMENS_WIN, PARTNER, ACQUIRE]
        items = http.get("/api/v1/items", params={"stage": "current"}).json()["items"]
        assert PARIS in [i["title"] for i in items] and FUNDING not in [i["title"] for i in items]


def test_a_signal_counts_only_for_the_prospect_it_is_about(seeded, tmp_path):
    seeded.store("news", [news_item("j1", "Apple expands into Snowflake's Dublin data centre", 0.5,
                                    [("apple", 0.9), ("snowflake", 0.8)], [("expansion", 0.8, "apple")])])
    with serving(app_from_config(tmp_path, seeded.url)) as http:
        assert stages(http, "/feeds/prospects/apple.atom", "delivering")[0].startswith("Apple expands")
        assert stages(http, "/feeds/prospects/snowflake.atom", "delivering") == [PARIS]
        assert stages(http, "/feeds/prospects/snowflake.atom", "current") == [PARIS]


def test_yaml_signals_overrides_change_which_stages_a_type_helps(seeded, tmp_path):
    signals = {"types": {"partnership": {"stages": ["delivering"]}, "acquisition": {"stages": ["closing"]}}}
    with serving(app_from_config(tmp_path, seeded.url, signals=signals)) as http:
        assert stages(http, ALICE_BUNDLE, "delivering") == [PARIS, PARTNER]
        assert stages(http, ALICE_BUNDLE, "closing") == [ACQUIRE]  # was: no earnings, no distress
        assert stages(http, ALICE_BUNDLE, "current") == [TIM_COOK, FUNDING, PARIS, PARTNER]


@pytest.mark.parametrize("path", [ALICE_BUNDLE, "/api/v1/items"])
def test_an_unknown_stage_is_a_clear_error_and_current_is_documented(seeded, tmp_path, path):
    with serving(app_from_config(tmp_path, seeded.url)) as http:
        bad = http.get(path, params={"stage": "closed-won"})
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["invalid-params"][0]["name"] == "query.stage.0"  # the first value given
        spec = http.get("/openapi.json").json()
    route = "/feeds/users/{user}.{fmt}" if path.startswith("/feeds") else path
    parameter = next(p for p in spec["paths"][route]["get"]["parameters"] if p["name"] == "stage")
    assert "`current`" in parameter["description"] and "signals:" in parameter["description"]
    assert "current" in str(parameter["schema"]) and "servicing" in str(parameter["schema"])


def test_old_items_outside_since_stay_out_with_a_stage(seeded, tmp_path):
    with serving(app_from_config(tmp_path, seeded.url)) as http:
        since = (NOW - timedelta(days=7)).isoformat()
        assert titles(http.get(ALICE_BUNDLE, params={"stage": "delivering", "since": since})) == [PARIS]

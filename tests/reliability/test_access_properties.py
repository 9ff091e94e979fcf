"""Who sees what, for any mix of items, visibilities, prospects and tokens (hypothesis).

Through every feed format, the OPML, every JSON API endpoint, search and the
counts in prospect summaries: an external token never sees an internal item,
a token never sees a prospect outside its scope, a revoked token sees nothing.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete

from intel.cli import _api_app
from intel.clock import utcnow
from models import repository, tokens
from models.tables import ApiToken, Item, Mention as MentionRow, Signal as SignalRow
from models.values import ItemToStore, Mention, RunRecord, Signal
from tests.conftest import start_pipeline

USERS = ["ann@example.com", "ben@example.com", "cat@example.com"]
PROSPECTS = [  # cat owns nothing
    {"id": "alpha", "name": "Alpha Robotics", "owner": "ann@example.com"},
    {"id": "bravo", "name": "Bravo Shipping", "owner": "ann@example.com"},
    {"id": "charlie", "name": "Charlie Foods", "owner": "ben@example.com"},
    {"id": "delta", "name": "Delta Mining", "owner": ["ann@example.com", "ben@example.com"]},
]
OWNED = {"ann@example.com": {"alpha", "bravo", "delta"}, "ben@example.com": {"charlie", "delta"},
         "cat@example.com": set()}
IDS = [p["id"] for p in PROSPECTS]
examples = itertools.count()

items_strategy = st.lists(st.tuples(st.sampled_from(["external", "internal"]),
                                    st.sets(st.sampled_from(IDS), min_size=1, max_size=2)), min_size=1, max_size=6)
tokens_strategy = st.lists(st.tuples(st.sampled_from(USERS), st.booleans(), st.booleans(), st.booleans()),
                           min_size=1, max_size=3)


@pytest.fixture
def site(write_config, database_url):
    config = write_config([
        {"id": "news", "kind": "rss", "url": "https://news.example.com/feed.xml", "visibility": "external"},
        {"id": "notes", "kind": "rss", "url": "https://crm.example.com/notes.xml", "visibility": "internal"}],
        prospects=PROSPECTS, database=database_url)
    pipeline, _ = start_pipeline(config)
    with TestClient(_api_app(config, pipeline.sessions), base_url="http://127.0.0.1:8000") as client:
        yield client, pipeline.sessions
    pipeline.close()


def _reset_and_store(sessions, items, token_specs):
    n = next(examples)
    now = utcnow()
    stored = []
    with sessions.begin() as session:
        for table in (SignalRow, MentionRow, Item, ApiToken):
            session.execute(delete(table))
    by_source = {"external": [], "internal": []}
    for i, (visibility, about) in enumerate(items):
        # Internal items carry a signal type no external item has, so a leaked count shows.
        marker = f"XMARK{n}x{i}x{visibility.upper()}"
        signal = "funding" if visibility == "internal" else "hiring"
        row = ItemToStore(dedup_key=marker, guid=marker, title=f"{marker} news", summary=f"{marker} summary",
                          url=f"https://news.example.com/{marker}", visibility=visibility,
                          content_hash=hashlib.sha256(marker.encode()).hexdigest(),
                          published_at=now - timedelta(hours=i + 1),
                          mentions=tuple(Mention(p, 0.9, ("title: name",)) for p in sorted(about)),
                          signals=tuple(Signal(signal, 0.9, ("title: words",), prospect_id=p) for p in sorted(about)))
        by_source[visibility].append(row)
        stored.append((marker, visibility, about))
    run = RunRecord(started_at=now, finished_at=now, status="ok", next_check_at=now + timedelta(hours=1))
    with sessions.begin() as session:
        repository.save_batch(session, "news", run, by_source["external"])
        repository.save_batch(session, "notes", run, by_source["internal"])
    issued = []
    with sessions.begin() as session:
        for user, internal, all_prospects, revoked in token_specs:
            scope, secret = tokens.create_token(session, user=user, now=now, internal=internal,
                                                all_prospects=all_prospects)
            if revoked:
                tokens.revoke_token(session, str(scope.id), now=now)
            issued.append((secret, user, internal, all_prospects, revoked))
    return stored, issued


def _paths(user: str) -> list[str]:
    paths = ["/api/v1/items", "/api/v1/items?q=XMARK", "/api/v1/prospects", "/api/v1/prospects?q=a",
             "/api/v1/prospects/lookup?name=Delta%20Mining", f"/feeds/users/{user}.opml"]
    for fmt in ("atom", "rss", "json"):
        paths += [f"/feeds/users/{u}.{fmt}" for u in USERS]
        paths += [f"/feeds/prospects/{p}.{fmt}" for p in IDS]
        paths += [f"/feeds/prospects/{p}.{fmt}?q=XMARK" for p in IDS]
    paths += [f"/api/v1/prospects/{p}" for p in IDS] + [f"/api/v1/prospects/{p}/items" for p in IDS]
    return paths


@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=items_strategy, token_specs=tokens_strategy)
def test_no_token_ever_sees_more_than_its_scope(site, items, token_specs):
    client, sessions = site
    stored, issued = _reset_and_store(sessions, items, token_specs)
    for secret, user, internal, all_prospects, revoked in issued:
        in_scope = set(IDS) if all_prospects else OWNED[user]
        for path in _paths(user):
            for how in (("bearer", "query") if path.startswith("/feeds/") else ("bearer",)):
                if how == "bearer":
                    response = client.get(path, headers={"Authorization": f"Bearer {secret}"})
                else:
                    response = client.get(path, params={"token": secret})
                body = response.text
                where = f"{path} ({how}; user={user} internal={internal} all={all_prospects} revoked={revoked})"
                if revoked:
                    assert response.status_code == 404, where
                    assert "XMARK" not in body, where
                    continue
                assert response.status_code in (200, 404), (where, response.status_code)
                for marker, visibility, about in stored:
                    if visibility == "internal" and not internal:
                        assert marker not in body, f"internal item leaked: {where}"
                    if not (about & in_scope):
                        assert marker not in body, f"out-of-scope item leaked: {where}"
                if not internal:
                    assert "funding" not in body, f"an internal item's signal counted: {where}"
                for prospect in set(IDS) - in_scope:
                    name = next(p["name"] for p in PROSPECTS if p["id"] == prospect)
                    if path.startswith("/api/v1/prospects") or path.endswith(".opml"):
                        assert name not in body, f"out-of-scope prospect {prospect} named: {where}"
                    if f"/prospects/{prospect}" in path:
                        assert response.status_code == 404, where
                if path == "/api/v1/items":  # and what it may see, it does see: the test is not vacuous
                    for marker, visibility, about in stored:
                        if (visibility == "external" or internal) and about & in_scope:
                            assert marker in body, f"a visible item is missing: {where}"
                if "/feeds/users/" in path and not path.endswith(".opml"):
                    feed_user = path.split("/feeds/users/")[1].rsplit(".", 1)[0]
                    if not all_prospects and feed_user != user:
                        assert response.status_code == 404, where

"""Bundles, channels, filters, paging, validators and stable entries, as feed readers see them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from xml.etree import ElementTree as ET

import feedparser
import pytest

import api.routes.feeds as feed_routes
from tests.api.conftest import NEWS, news_item
from tests.api.feedcheck import json_feed_problems

ALICE_BUNDLE = "/feeds/users/alice@example.com"
# Alice owns apple and snowflake: every external item about them, newest first.
ALICE_TITLES = ["Tim Cook names a new Apple CFO", "Apple raises $5B in bond funding",
                "Snowflake opens a Paris region", "Snowflake and Siemens partner on industrial data",
                "Apple to acquire a small AI start-up"]


def get(client, path, token="alice", **params):
    return client.get(path, params={"token": client.seeded.tokens[token], **params})


def titles(response) -> list[str]:
    return [e.title for e in feedparser.parse(response.content).entries]


def test_bundle_holds_every_owned_prospect_in_all_three_formats(client):
    atom, rss, js = (get(client, f"{ALICE_BUNDLE}.{fmt}") for fmt in ("atom", "rss", "json"))
    assert atom.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert rss.headers["content-type"] == "application/rss+xml; charset=utf-8"
    assert js.headers["content-type"] == "application/feed+json; charset=utf-8"
    assert titles(atom) == titles(rss) == ALICE_TITLES
    assert [i["title"] for i in json.loads(js.content)["items"]] == ALICE_TITLES
    assert feedparser.parse(atom.content).version == "atom10"
    assert feedparser.parse(rss.content).version == "rss20"


def test_each_entry_says_what_it_is_about_and_why(client):
    doc = json.loads(get(client, f"{ALICE_BUNDLE}.json").content)
    funding = next(i for i in doc["items"] if i["title"] == "Apple raises $5B in bond funding")
    assert funding["url"] == "https://news.example.com/n1"
    assert funding["tags"] == ["funding"]
    assert funding["_prospect_intel"]["prospects"] == [{"id": "apple", "score": 0.9}]
    assert funding["_prospect_intel"]["source"] == "Example News"
    assert funding["summary"].startswith("About Apple Inc. (score 0.90") and "via Example News" in funding["summary"]
    assert "<b>eleven</b>" in funding["content_html"]
    entry = next(e for e in feedparser.parse(get(client, f"{ALICE_BUNDLE}.atom").content).entries
                 if e.title == "Apple raises $5B in bond funding")
    assert {(t.term, t.scheme) for t in entry.tags} == {("funding", "urn:prospect-intel:signal"),
                                                         ("apple", "urn:prospect-intel:prospect")}


def test_summaries_are_sanitized(client):
    client.seeded.store("news", [news_item("x1", "Apple keynote recap", 0.5, [("apple", 0.9)],
                                           summary='<p onclick="steal()">Hi<script>alert(1)</script>'
                                                   '<a href="javascript:alert(2)">x</a><img src=x onerror=y></p>')])
    for fmt in ("atom", "rss", "json"):
        body = get(client, f"/feeds/prospects/apple.{fmt}").text
        assert "Hi" in body and "alert(1)" not in body and "javascript:" not in body, fmt
        assert "onclick" not in body and "onerror" not in body, fmt


@pytest.mark.parametrize("params, expected", [
    ({"signal": "funding"}, ["Apple raises $5B in bond funding"]),
    ({"signal": ["funding", "expansion"]}, ["Apple raises $5B in bond funding", "Snowflake opens a Paris region"]),
    ({"min_score": "0.85"}, ["Apple raises $5B in bond funding"]),
    # stage: a signal that helps that stage (expansion and acquisition help delivering; partnership does not)
    ({"stage": "delivering"}, ["Snowflake opens a Paris region", "Apple to acquire a small AI start-up"]),
    ({"source": "crm-notes"}, []),
    ({"q": "paris"}, ["Snowflake opens a Paris region"]),
    ({"since": "__7_days_ago__"}, ALICE_TITLES[:3]),
    ({"limit": "2"}, ALICE_TITLES[:2]),
])
def test_filters_as_query_parameters(client, params, expected):
    from datetime import timedelta

    from tests.api.conftest import NOW

    if params.get("since") == "__7_days_ago__":
        params = {"since": (NOW - timedelta(days=7)).isoformat()}
    assert titles(get(client, f"{ALICE_BUNDLE}.atom", **params)) == expected


def test_paging_follows_next_links_to_the_end_without_overlap(client):
    seen, url, pages = [], f"{ALICE_BUNDLE}.atom", 0
    response = get(client, url, limit="2")
    while True:
        feed = feedparser.parse(response.content)
        seen += [e.title for e in feed.entries]
        pages += 1
        following = [link.href for link in feed.feed.links if link.rel == "next"]
        if not following:
            break
        assert following[0].startswith("http://feeds.test/feeds/users/") and "token=" in following[0]
        response = client.get(following[0])
    assert seen == ALICE_TITLES and pages == 3
    js = json.loads(get(client, f"{ALICE_BUNDLE}.json", limit="3").content)
    rest = json.loads(client.get(js["next_url"]).content)
    assert [i["title"] for i in js["items"] + rest["items"]] == ALICE_TITLES and "next_url" not in rest


def test_conditional_requests_get_304_without_rendering(client, monkeypatch):
    first = get(client, f"{ALICE_BUNDLE}.atom")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert first.headers["cache-control"] == "private, max-age=120"  # feeds.max_age from the config
    rendered = []
    monkeypatch.setitem(feed_routes.DOCUMENT_RENDERERS, "atom",
                        lambda doc, entries, real=feed_routes.DOCUMENT_RENDERERS["atom"]:
                        rendered.append(doc) or real(doc, entries))
    token = {"token": client.seeded.tokens["alice"]}
    again = client.get(f"{ALICE_BUNDLE}.atom", params=token, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get(f"{ALICE_BUNDLE}.atom", params=token,
                      headers={"If-Modified-Since": modified}).status_code == 304
    assert rendered == []  # neither 304 rendered the feed
    client.seeded.store("news", [news_item("n9", "Apple opens a store in Lagos", 0.1, [("apple", 0.8)])])
    changed = client.get(f"{ALICE_BUNDLE}.atom", params=token, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag and len(rendered) == 1


def test_entry_ids_stable_and_updated_moves_only_when_the_entry_changes(client):
    def entries():
        return {e.id: (e.title, e.updated) for e in feedparser.parse(get(client, f"{ALICE_BUNDLE}.atom").content).entries}

    before = entries()
    assert entries() == before  # re-render: identical ids and times
    assert len({updated for _, updated in before.values()}) == len(before)  # a batch does not share one time
    client.seeded.store("news", [news_item("n10", "Snowflake hires a CRO", 0.2, [("snowflake", 0.7)])])
    after = entries()
    assert {k: v for k, v in after.items() if k in before} == before  # old entries untouched
    edited = replace(NEWS[0], title="Apple raises $5.5B in bond funding",
                     content_hash=hashlib.sha256(b"edited").hexdigest())
    client.seeded.store("news", [edited])
    final = entries()
    changed = [k for k in before if final[k] != before[k]]
    assert len(changed) == 1 and final[changed[0]][0] == "Apple raises $5.5B in bond funding"
    assert final[changed[0]][1] > before[changed[0]][1]


def test_channels_apply_their_filters_to_my_prospects(client):
    # deals: funding or acquisition, prospects in qualifying, owned by the token's user.
    assert titles(get(client, "/feeds/channels/deals.atom")) == ["Apple raises $5B in bond funding",
                                                                 "Apple to acquire a small AI start-up"]
    assert titles(get(client, "/feeds/channels/deals.atom", token="bob")) == []  # Bob's prospect is prospecting
    assert titles(get(client, "/feeds/channels/deals.atom", signal="funding")) == ["Apple raises $5B in bond funding"]
    assert titles(get(client, "/feeds/channels/deals.atom", signal="layoffs")) == []
    # An all-prospects channel shows everything only to an all-prospects token.
    assert "Siemens AG wins rail signalling contract" in titles(get(client, "/feeds/channels/everything.rss",
                                                                    token="manager"))
    assert titles(get(client, "/feeds/channels/everything.rss")) == ALICE_TITLES
    assert get(client, "/feeds/channels/nope.atom").status_code == 404


def test_opml_lists_every_feed_of_the_user_with_its_token(client):
    response = get(client, f"{ALICE_BUNDLE}.opml")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/x-opml")
    root = ET.fromstring(response.content)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/ownerEmail") == "alice@example.com"
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    token = client.seeded.tokens["alice"]
    assert urls == [f"http://feeds.test/feeds/users/alice@example.com.atom?token={token}",
                    f"http://feeds.test/feeds/prospects/apple.atom?token={token}",
                    f"http://feeds.test/feeds/prospects/snowflake.atom?token={token}",
                    f"http://feeds.test/feeds/channels/deals.atom?token={token}",
                    f"http://feeds.test/feeds/channels/everything.atom?token={token}"]
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert client.get(f"{ALICE_BUNDLE}.opml", params={"token": token},
                      headers={"If-None-Match": response.headers["etag"]}).status_code == 304


@pytest.mark.parametrize("path", ["/feeds/prospects/apple.json", "/feeds/users/alice@example.com.json",
                                  "/feeds/channels/deals.json", "/feeds/prospects/snowflake.json?limit=1"])
def test_json_feeds_are_valid_json_feed_1_1(client, path):
    path, _, query = path.partition("?")
    response = get(client, path, **dict(p.split("=") for p in query.split("&") if p))
    assert json_feed_problems(response.content) == []
    doc = json.loads(response.content)
    assert doc["items"], "validating an empty feed proves little"
    assert doc["feed_url"].startswith("http://feeds.test" + path)


def test_json_feed_check_catches_broken_documents():
    broken = {"version": "https://jsonfeed.org/version/1", "title": "x",
              "items": [{"id": "1", "date_published": "yesterday"}, {"id": "1", "content_text": ""}]}
    problems = json_feed_problems(json.dumps(broken).encode())
    assert any("version" in p for p in problems)
    assert any(p.startswith("items/0:") for p in problems)  # neither content_html nor content_text
    assert "item ids are not unique" in problems and any("RFC 3339" in p for p in problems)


def test_a_feed_fetched_again_unchanged_is_not_rendered_again_but_an_edit_shows_at_once(client, monkeypatch):
    first = get(client, "/feeds/prospects/apple.atom")
    rendered = []
    monkeypatch.setitem(feed_routes.DOCUMENT_RENDERERS, "atom",
                        lambda doc, entries, real=feed_routes.DOCUMENT_RENDERERS["atom"]:
                        rendered.append(doc) or real(doc, entries))
    again = get(client, "/feeds/prospects/apple.atom")  # a reader without validators
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"] and rendered == []
    # The prospect is renamed in the config: the same items, a new name in every entry, a new ETag.
    from tests.api.conftest import NOW, PROSPECTS
    from models import repository
    renamed = [dict(p, name="Apple Computer") if p["id"] == "apple" else p for p in PROSPECTS]
    with client.seeded.sessions.begin() as session:
        repository.sync_prospects(session, renamed, origin="config", now=NOW)
    edited = get(client, "/feeds/prospects/apple.atom")
    assert edited.headers["etag"] != first.headers["etag"] and len(rendered) == 1
    assert "About Apple Computer" in edited.text and "About Apple Inc." not in edited.text


def test_a_feed_that_gained_an_entry_loads_only_that_item_and_reads_as_a_fresh_render(client, monkeypatch):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.api.conftest import make_settings

    for fmt in ("atom", "rss", "json"):
        get(client, f"{ALICE_BUNDLE}.{fmt}")
    client.seeded.store("news", [news_item("n11", "Apple opens a lab in Nairobi", 0.05, [("apple", 0.9)],
                                           [("expansion", 0.8, "apple")])])
    loaded = []
    real = feed_routes.feeds.feed_items
    monkeypatch.setattr(feed_routes.feeds, "feed_items", lambda session, ids: loaded.append(list(ids)) or real(session, ids))
    kept = {fmt: get(client, f"{ALICE_BUNDLE}.{fmt}").content for fmt in ("atom", "rss", "json")}
    assert [len(ids) for ids in loaded] == [1, 1, 1]  # the new item only, once per format
    assert titles(client.get(f"{ALICE_BUNDLE}.atom", params={"token": client.seeded.tokens["alice"]}))[0] == \
        "Apple opens a lab in Nairobi"
    fresh_app = create_app(make_settings(client.seeded.url), client.seeded.sessions)  # nothing kept yet
    with TestClient(fresh_app, base_url="http://feeds.test") as fresh:
        fresh.seeded = client.seeded
        for fmt, body in kept.items():
            assert get(fresh, f"{ALICE_BUNDLE}.{fmt}").content == body, fmt

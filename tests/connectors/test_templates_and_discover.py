"""Per-prospect templated sources follow the prospect list; discover sources subscribe to feeds."""

from __future__ import annotations

import shutil

import pytest
import yaml
from sqlalchemy import select

from intel.config import ConfigError, load_config
from intel.sync import sync_config
from models.tables import Item, Source
from tests.conftest import DATA, DEFAULT_PROSPECTS, rss_feed, start_pipeline as start

NEWS_SEARCH = {"id": "news-search", "kind": "rss", "for_each": "prospect", "every": "1h",
               "url_template": "https://news.example.com/rss?q={name}&site={domain}"}


def write(tmp_path, sources, prospects=DEFAULT_PROSPECTS, database=None):
    path = tmp_path / "intel.yaml"
    path.write_text(yaml.safe_dump({"database": database or f"sqlite:///{tmp_path / 'intel.db'}",
                                    "prospects": list(prospects), "sources": sources}, sort_keys=False))
    return load_config(path)


def sources(pipeline) -> dict[str, Source]:
    with pipeline.sessions() as session:
        return {s.id: s for s in session.scalars(select(Source))}


def test_a_template_is_expanded_for_every_prospect_with_encoded_placeholders(tmp_path, database_url):
    prospects = DEFAULT_PROSPECTS + [{"id": "att", "name": "AT&T Inc.", "domains": ["att.com"],
                                      "stage": "closing"},
                                     {"id": "nodomain", "name": "No Domain GmbH", "stage": "prospecting"}]
    pipeline, _ = start(write(tmp_path, [NEWS_SEARCH], prospects, database=database_url))
    found = sources(pipeline)
    assert set(found) == {"news-search--apple", "news-search--siemens", "news-search--snowflake",
                          "news-search--att"}  # no domain, no {domain}: no source
    assert found["news-search--att"].url == "https://news.example.com/rss?q=AT%26T%20Inc.&site=att.com"
    assert found["news-search--apple"].url == "https://news.example.com/rss?q=Apple%20Inc.&site=apple.com"
    apple = found["news-search--apple"]
    assert (apple.kind, apple.every_seconds, apple.enabled) == ("rss", 3600, True)
    assert apple.settings["template"] == "news-search" and apple.settings["prospect"] == "apple"
    assert "attach_prospect" not in apple.settings  # search results are tagged, not assumed


def test_where_filters_prospects_and_sources_follow_prospect_changes(tmp_path):
    template = {**NEWS_SEARCH, "where": {"stage": ["prospecting", "qualifying"]}}
    config = write(tmp_path, [template])
    pipeline, _ = start(config)
    enabled = {k for k, s in sources(pipeline).items() if s.enabled}
    assert enabled == {"news-search--apple", "news-search--siemens"}  # snowflake is delivering
    # Siemens moves on to delivering and Apple's domain changes: sources follow on the next sync.
    changed = [dict(p) for p in DEFAULT_PROSPECTS]
    changed[1]["stage"] = "delivering"
    changed[0]["domains"] = ["apple.example"]
    sync_config(pipeline.sessions, write(tmp_path, [template], changed))
    after = sources(pipeline)
    assert not after["news-search--siemens"].enabled
    assert "no longer matches" in after["news-search--siemens"].disabled_reason
    assert after["news-search--apple"].url.endswith("site=apple.example")
    # Back in scope: enabled again.
    sync_config(pipeline.sessions, config)
    assert sources(pipeline)["news-search--siemens"].enabled


def test_templated_sources_follow_crm_imports(tmp_path):
    shutil.copy(DATA / "crm" / "salesforce_accounts.csv", tmp_path / "accounts.csv")
    crm = {"id": "accounts", "kind": "crm", "path": "accounts.csv", "preset": "salesforce"}
    pipeline, worker = start(write(tmp_path, [crm, {**NEWS_SEARCH, "where": {"origin": ["crm:accounts"]}}],
                                   prospects=[]))
    assert not [k for k in sources(pipeline) if k.startswith("news-search--")]  # no prospects yet
    worker.tick(only="accounts")
    assert {k for k, s in sources(pipeline).items() if k.startswith("news-search--") and s.enabled} == {
        "news-search--acme-corporation", "news-search--globex-inc", "news-search--initech-llc",
        "news-search--muller-maschinenbau-gmbh"}
    lines = (tmp_path / "accounts.csv").read_text(encoding="utf-8-sig").splitlines()
    (tmp_path / "accounts.csv").write_text("\n".join(line for line in lines if "Initech" not in line))
    worker.tick(only="accounts")
    initech = sources(pipeline)["news-search--initech-llc"]
    assert not initech.enabled and "archived" in initech.disabled_reason  # disabled, not deleted


def test_a_templated_url_never_reaches_a_private_address(feed_server, tmp_path):
    feed_server.serve("/feed", rss_feed({"title": "internal", "link": "https://x.example/1"}))
    port = feed_server.httpd.server_address[1]
    template = {**NEWS_SEARCH, "url_template": f"http://127.0.0.1:{port}/feed?c={{id}}"}
    pipeline, worker = start(write(tmp_path, [template]))
    [outcome] = worker.tick(only="news-search--apple")
    assert outcome.status == "failed" and "loopback" in outcome.error
    assert feed_server.requests == []


@pytest.mark.parametrize("source, message", [
    ({**NEWS_SEARCH, "url_template": "file:///etc/{id}"}, "never file:"),
    ({**NEWS_SEARCH, "allow_private": True}, "never reach private addresses"),
    ({**NEWS_SEARCH, "url_template": "https://x.example/?q={company}"}, "unknown: company"),
    ({"id": "t", "kind": "rss", "url_template": "https://x.example/{id}"}, "go together"),
])
def test_unsafe_or_wrong_templates_are_config_errors(tmp_path, source, message):
    with pytest.raises(ConfigError, match=message):
        write(tmp_path, [source])


HOME = """<html><head><title>Siemens</title>
<link rel="alternate" type="application/rss+xml" title="Press" href="/press/rss.xml">
<link rel="alternate" type="text/html" href="/de/">
<link rel="stylesheet" href="/style.css"></head><body>Welcome</body></html>"""


def test_discover_finds_a_sites_own_feeds_and_subscribes_to_them(feed_server, tmp_path):
    home = feed_server.serve("/", HOME)
    feed_server.serve("/press/rss.xml", rss_feed({"title": "Siemens AG wins a contract", "guid": "p1",
                                                  "link": "https://press.example/1"}, title="Press"),
                      Content_Type="application/rss+xml")
    feed_server.serve("/feed", rss_feed({"title": "A blog post", "guid": "b1", "link": "https://blog.example/1"},
                                        title="Blog"), Content_Type="application/rss+xml")
    feed_server.serve("/rss", "<html>not a feed</html>", Content_Type="text/html")
    config = write(tmp_path, [{"id": "siemens-site", "kind": "discover", "url": home, "allow_private": True,
                               "feed_every": "2h"}])
    pipeline, worker = start(config)
    [outcome] = worker.tick(only="siemens-site")
    assert outcome.status == "ok", outcome.error
    feeds = {s.url: s for s in sources(pipeline).values() if s.settings.get("discovered_by") == "siemens-site"}
    assert set(feeds) == {feed_server.url("/press/rss.xml"), feed_server.url("/feed")}
    press = feeds[feed_server.url("/press/rss.xml")]
    assert (press.kind, press.every_seconds, press.title) == ("rss", 7200, "Press")
    # The prospect's own feeds belong to it: pretend the discover source came from a template for Siemens.
    with pipeline.sessions.begin() as session:
        parent = session.get(Source, "siemens-site")
        parent.settings = {**parent.settings, "prospect": "siemens", "attach_prospect": "siemens"}
    worker.tick(only="siemens-site")
    assert worker.tick(only=press.id)[0].counts.new == 1
    blog_id = feeds[feed_server.url("/feed")].id
    worker.tick(only=blog_id)
    with pipeline.sessions() as session:
        blog_post = session.scalars(select(Item).where(Item.source_id == blog_id)).one()
        assert [m.prospect_id for m in blog_post.mentions] == ["siemens"]  # attached without a name in it
    # The site stops advertising its press feed and /feed disappears: both are disabled, not deleted.
    feed_server.serve("/", "<html><head></head><body>Welcome</body></html>")
    feed_server.serve("/feed", "gone", status=404)
    worker.tick(only="siemens-site")
    after = sources(pipeline)
    assert not after[press.id].enabled and "no longer finds" in after[press.id].disabled_reason
    # Advertised again: enabled again. Config sync leaves discovered feeds alone ...
    feed_server.serve("/", HOME)
    worker.tick(only="siemens-site")
    sync_config(pipeline.sessions, config)
    assert sources(pipeline)[press.id].enabled
    # ... and removing the discover source from config disables its feeds too.
    sync_config(pipeline.sessions, write(tmp_path, []))
    assert sources(pipeline)[press.id].disabled_reason == "its discover source is disabled"

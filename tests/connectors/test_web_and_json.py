"""Pages without feeds and JSON endpoints, served by a real loopback server, stored for real."""

from __future__ import annotations

import json

from sqlalchemy import select

from models.tables import Item, SourceRun
from tests.conftest import start_pipeline as start

NEWSROOM = """<!doctype html><html><head><title>Siemens Newsroom</title></head><body>
<nav><a href="/">Home</a><a href="/about">About</a></nav>
<main><h1>Press releases</h1>
<article class="release"><h2><a href="/press/rail-contract">Siemens AG wins rail contract</a></h2>
  <time datetime="2026-11-02T09:30:00+01:00">2 Nov 2026</time><p class="teaser">400 km of track.</p></article>
<article class="release"><h2><a href="https://other.example/press/plant">Siemens AG opens a plant in Texas</a></h2>
  <span class="date">November 3, 2026</span><p class="teaser">A new factory.</p></article>
<article class="release"><h2></h2></article>
</main><footer>© Siemens</footer></body></html>"""

ARTICLE = """<html><head><title>{title}</title></head><body><nav>Menu Home About Contact</nav>
<article><h1>{title}</h1><p>{body}</p><p>The company said the project would take three years and employ
hundreds of engineers across several regions, according to the statement published today.</p></article>
<footer>Imprint Privacy Cookies</footer></body></html>"""


def items(pipeline, source_id: str) -> dict[str, Item]:
    with pipeline.sessions() as session:
        return {i.title: i for i in session.scalars(select(Item).where(Item.source_id == source_id))}


def test_a_selector_page_becomes_items(feed_server, write_config, database_url):
    url = feed_server.serve("/newsroom", NEWSROOM, Content_Type="text/html; charset=utf-8")
    pipeline, worker = start(write_config([{
        "id": "newsroom", "kind": "web", "url": url,
        "selectors": {"item": "article.release", "title": "h2", "link": "h2 a::attr(href)",
                      "date": "time::attr(datetime), .date", "summary": ".teaser"},
    }], database=database_url))
    [outcome] = worker.tick(only="newsroom")
    assert (outcome.status, outcome.counts.new) == ("ok", 2), outcome.error
    found = items(pipeline, "newsroom")
    rail = found["Siemens AG wins rail contract"]
    assert rail.url == feed_server.url("/press/rail-contract")  # relative links made absolute
    assert rail.published_at.isoformat() == "2026-11-02T08:30:00+00:00"
    assert rail.summary == "400 km of track."
    plant = found["Siemens AG opens a plant in Texas"]
    assert plant.url == "https://other.example/press/plant" and plant.published_at.day == 3
    assert [m.prospect_id for m in rail.mentions] == ["siemens"]  # tagged like any other item
    with pipeline.sessions() as session:
        assert "1 entries had no title" in session.scalars(select(SourceRun)).one().error
    assert worker.tick(only="newsroom")[0].counts.new == 0  # polled again: no duplicates


def test_a_page_whose_layout_changed_fails_loudly(feed_server, write_config):
    url = feed_server.serve("/newsroom", "<html><body><p>We moved our news.</p></body></html>")
    _, worker = start(write_config([{"id": "newsroom", "kind": "web", "url": url,
                                     "selectors": {"item": "article.release"}}]))
    [outcome] = worker.tick(only="newsroom")
    assert outcome.status == "failed" and "matched nothing" in outcome.error


def test_a_changed_page_produces_one_item_saying_what_was_added(feed_server, write_config, database_url):
    page = "<html><head><title>Acme careers</title></head><body><nav>Jobs Team</nav><main>{}</main></body></html>"
    url = feed_server.serve("/careers", page.format("<h1>Open roles</h1><ul><li>Welder</li></ul>"))
    pipeline, worker = start(write_config([{"id": "careers", "kind": "web", "mode": "change", "url": url}],
                                          database=database_url))
    assert worker.tick(only="careers")[0].counts.new == 0  # the first visit records a baseline
    # Boilerplate outside the main text changing is not a change.
    feed_server.serve("/careers", page.replace("Jobs Team", "Jobs Team Blog").format(
        "<h1>Open roles</h1><ul><li>Welder</li></ul>"))
    assert worker.tick(only="careers")[0].counts.new == 0
    feed_server.serve("/careers", page.format(
        "<h1>Open roles</h1><ul><li>Welder</li><li>Head of Sales, EMEA</li><li>Rocket engineer</li></ul>"))
    [changed] = worker.tick(only="careers")
    assert changed.counts.new == 1
    [item] = items(pipeline, "careers").values()
    assert item.title == "Acme careers: page changed"
    assert item.summary == "Added (2 lines): Head of Sales, EMEA / Rocket engineer"
    assert worker.tick(only="careers")[0].counts.new == 0  # unchanged since: nothing new


def test_full_text_of_new_entries_is_fetched_once_and_bounded(feed_server, write_config):
    listing = "<html><body>" + "".join(
        f'<div class="post"><a href="/post/{n}">Post number {n}</a></div>' for n in (1, 2, 3)) + "</body></html>"
    url = feed_server.serve("/blog", listing)
    for n in (1, 2, 3):
        feed_server.serve(f"/post/{n}", ARTICLE.format(title=f"Post number {n}",
                                                      body=f"Siemens AG announced milestone number {n}."))
    pipeline, worker = start(write_config([{"id": "blog", "kind": "web", "url": url, "fulltext": True,
                                            "fulltext_limit": 2, "selectors": {"item": "div.post"}}]))
    assert worker.tick(only="blog")[0].counts.new == 2  # at most fulltext_limit pages per run
    assert worker.tick(only="blog")[0].counts.new == 1  # the rest on the next run
    assert worker.tick(only="blog")[0].counts.new == 0
    found = items(pipeline, "blog")
    assert set(found) == {"Post number 1", "Post number 2", "Post number 3"}
    for n in (1, 2, 3):
        assert f"milestone number {n}" in found[f"Post number {n}"].content
        assert "Imprint" not in found[f"Post number {n}"].content  # boilerplate removed
        assert len(feed_server.requests_to(f"/post/{n}")) == 1  # each article read once


def test_robots_txt_keeps_a_web_source_off_disallowed_pages_unless_it_opts_out(feed_server, write_config):
    feed_server.serve("/robots.txt", "User-agent: *\nDisallow: /newsroom\n")
    url = feed_server.serve("/newsroom", NEWSROOM)
    selectors = {"item": "article.release", "title": "h2"}
    pipeline, worker = start(write_config([
        {"id": "polite", "kind": "web", "url": url, "selectors": selectors},
        {"id": "opted-out", "kind": "web", "url": url, "selectors": selectors, "robots": False},
    ]))
    polite, opted_out = worker.tick(only="polite")[0], worker.tick(only="opted-out")[0]
    assert polite.status == "failed" and "robots.txt" in polite.error
    assert opted_out.status == "ok" and opted_out.counts.new == 2
    assert len(feed_server.requests_to("/newsroom")) == 1


GREENHOUSE = {"jobs": [
    {"id": 4001, "title": "Account Executive, DACH", "absolute_url": "https://boards.example/acme/jobs/4001",
     "updated_at": "2026-11-01T10:00:00-04:00", "location": {"name": "Munich"}},
    {"id": 4002, "title": "Head of Data Platform", "absolute_url": "https://boards.example/acme/jobs/4002",
     "updated_at": "2026-11-02T10:00:00-04:00", "location": {"name": "Remote"}},
    {"id": 4003, "title": None, "absolute_url": "https://boards.example/acme/jobs/4003"},
], "meta": {"total": 3}}
LEVER = [{"id": "a1", "text": "Solutions Engineer", "hostedUrl": "https://jobs.example/acme/a1",
          "createdAt": 1793526400000, "categories": {"team": "Sales", "location": "London"}}]


def test_a_json_job_board_becomes_hiring_items(feed_server, write_config, database_url):
    greenhouse = feed_server.serve("/v1/boards/acme/jobs", json.dumps(GREENHOUSE), Content_Type="application/json",
                                   ETag='"jobs-1"')
    lever = feed_server.serve("/v0/postings/acme", json.dumps(LEVER), Content_Type="application/json")
    pipeline, worker = start(write_config([
        {"id": "acme-greenhouse", "kind": "json", "url": greenhouse, "items": "jobs",
         "fields": {"title": "join(' ', ['Hiring:', title])", "link": "absolute_url", "guid": "to_string(id)",
                    "date": "updated_at", "summary": "location.name"},
         "headers": {"X-Api-Key": "k-123"}},
        {"id": "acme-lever", "kind": "json", "url": lever,
         "fields": {"title": "text", "link": "hostedUrl", "date": "createdAt",
                    "summary": "join(', ', [categories.team, categories.location])"}},
    ], database=database_url))
    [board] = worker.tick(only="acme-greenhouse")
    assert (board.status, board.counts.new) == ("ok", 2)
    found = items(pipeline, "acme-greenhouse")
    job = found["Hiring: Account Executive, DACH"]
    assert (job.url, job.guid, job.summary) == ("https://boards.example/acme/jobs/4001", "4001", "Munich")
    assert job.published_at.isoformat() == "2026-11-01T14:00:00+00:00"
    assert feed_server.requests_to("/v1/boards/acme/jobs")[0].headers["x-api-key"] == "k-123"
    assert worker.tick(only="acme-greenhouse")[0].status == "not_modified"
    worker.tick(only="acme-lever")
    [posting] = items(pipeline, "acme-lever").values()
    assert posting.summary == "Sales, London" and posting.published_at.year == 2026


def test_a_json_endpoint_that_returns_something_else_fails_with_a_reason(feed_server, write_config):
    url = feed_server.serve("/api", "<html>login</html>")
    broken = feed_server.serve("/api2", json.dumps({"jobs": {"not": "a list"}}))
    _, worker = start(write_config([
        {"id": "html", "kind": "json", "url": url, "fields": {"title": "title"}},
        {"id": "shape", "kind": "json", "url": broken, "items": "jobs", "fields": {"title": "title"}},
    ]))
    html, shape = worker.tick(only="html")[0], worker.tick(only="shape")[0]
    assert html.status == "failed" and "did not return JSON" in html.error
    assert shape.status == "failed" and "not a list" in shape.error

"""Hostile feed documents and bodies, through a real worker run against a loopback server.

For each: the run ends within the fetch limits, memory stays bounded, the
hostile source is marked failed with a reason ops staff can act on (or, for
odd-but-legal documents, ingests correctly), and the good source beside it
ingests as if nothing happened.
"""

from __future__ import annotations

import gzip
import random

import pytest

from bench.common import vocabulary
from intel.tagging import TagInput
from models.tables import Item
from tests.conftest import rss_feed, start_pipeline
from tests.reliability.conftest import (GOOD_ITEMS, TIGHT_HTTP, drip, endless_body, finishes, health,
                                        item_count, reset_mid_body, rss_growth, serve_good_feed,
                                        serve_handler)

# 100 MB of zeros squeezed into ~100 kB: must be cut at the decoded cap (1 MiB here).
GZIP_BOMB = gzip.compress(b"\0" * (100 * 2 ** 20), compresslevel=9)
MEMORY_BUDGET_MB = 150


def billion_laughs() -> str:
    entities = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">{entities}]>'
            '<rss version="2.0"><channel><title>t</title><item><title>&lol9;</title>'
            "<link>https://news.example.com/laughs</link></item></channel></rss>")


def external_entity(target: str) -> str:
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY leak SYSTEM "{target}">]>'
            '<rss version="2.0"><channel><title>t</title><item><title>Siemens AG &leak; done</title>'
            "<link>https://news.example.com/xxe</link><description>&leak;</description></item></channel></rss>")


def parameter_entity(target: str) -> str:
    return (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % remote SYSTEM "{target}"> %remote;]>'
            '<rss version="2.0"><channel><title>t</title><item><title>Siemens AG</title>'
            "<link>https://news.example.com/pe</link></item></channel></rss>")


def run_beside_good_feed(feed_server, write_config, database_url, hostile_url: str, **extra):
    config = write_config([{"id": "hostile", "kind": "rss", "url": hostile_url}, serve_good_feed(feed_server)],
                          database=database_url, http=TIGHT_HTTP, **extra)
    pipeline, worker = start_pipeline(config)
    warm_up(pipeline)
    with rss_growth() as memory:
        outcomes = finishes(worker.tick, within=60)
    return pipeline, {o.source_id: o for o in outcomes}, memory


def warm_up(pipeline) -> None:
    """Load spaCy and build the matcher first: memory growth then means the hostile input's."""
    pipeline.tag([TagInput("Siemens AG warms up", "", "", None)])


def assert_good_feed_unaffected(pipeline, outcomes) -> None:
    assert outcomes["good"].status == "ok" and outcomes["good"].counts.new == len(GOOD_ITEMS)
    assert item_count(pipeline.sessions, Item.source_id == "good") == len(GOOD_ITEMS)


# --- XML ----------------------------------------------------------------------------------

@pytest.mark.parametrize("make", ["billion_laughs", "file", "loopback_http", "parameter_entity"])
def test_entity_tricks_are_refused_and_nothing_is_read_or_fetched(feed_server, write_config, sqlite_url,
                                                                  make):
    secret_url = feed_server.serve("/secret.txt", "TOP SECRET loopback answer")
    feed_server.serve("/evil.dtd", f'<!ENTITY leak SYSTEM "{secret_url}">')
    document = {"billion_laughs": billion_laughs, "file": lambda: external_entity("file:///etc/passwd"),
                "loopback_http": lambda: external_entity(secret_url),
                "parameter_entity": lambda: parameter_entity(feed_server.url("/evil.dtd"))}[make]()
    url = feed_server.serve("/hostile.xml", document, Content_Type="application/rss+xml")
    pipeline, outcomes, memory = run_beside_good_feed(feed_server, write_config, sqlite_url, url)

    assert outcomes["hostile"].status == "failed"
    assert "entit" in outcomes["hostile"].error and "refused" in outcomes["hostile"].error
    assert health(pipeline.sessions)["hostile"]["last_error"] == outcomes["hostile"].error
    assert item_count(pipeline.sessions, Item.source_id == "hostile") == 0
    assert feed_server.requests_to("/secret.txt") == [] and feed_server.requests_to("/evil.dtd") == []
    assert memory.growth_mb < MEMORY_BUDGET_MB
    assert_good_feed_unaffected(pipeline, outcomes)


def test_an_external_dtd_is_never_fetched(feed_server, write_config, sqlite_url):
    """A DOCTYPE naming an external DTD (but declaring nothing) is legal: ingested, DTD never fetched."""
    dtd = feed_server.serve("/rss.dtd", '<!ENTITY leak "pwned">')
    document = rss_feed(GOOD_ITEMS[0] | {"guid": "dtd-1", "link": "https://news.example.com/dtd"}).replace(
        '<rss version="2.0">', f'<!DOCTYPE rss SYSTEM "{dtd}"><rss version="2.0">')
    url = feed_server.serve("/dtd.xml", document, Content_Type="application/rss+xml")
    pipeline, outcomes, _ = run_beside_good_feed(feed_server, write_config, sqlite_url, url)
    assert outcomes["hostile"].status == "ok" and outcomes["hostile"].counts.new == 1
    assert feed_server.requests_to("/rss.dtd") == []
    assert_good_feed_unaffected(pipeline, outcomes)


# --- bodies -------------------------------------------------------------------------------

def _gzip_bomb(server):
    return server.serve("/bomb.xml", GZIP_BOMB, Content_Type="application/rss+xml", Content_Encoding="gzip")


@pytest.mark.parametrize("case, reason", [
    ("gzip_bomb", "larger than 1048576 bytes once decoded"),
    ("huge_body", "larger than 1048576 bytes once decoded"),
    ("drip", "total deadline 3s"),
    ("reset", "Connection reset by peer"),
])
def test_hostile_bodies_are_cut_and_the_source_fails_with_a_reason(feed_server, write_config, sqlite_url,
                                                                   case, reason):
    url = {"gzip_bomb": lambda: _gzip_bomb(feed_server),
           "huge_body": lambda: serve_handler(feed_server, "/huge.xml", endless_body),
           "drip": lambda: serve_handler(feed_server, "/drip.xml", drip),
           "reset": lambda: serve_handler(feed_server, "/reset.xml", reset_mid_body)}[case]()
    pipeline, outcomes, memory = run_beside_good_feed(feed_server, write_config, sqlite_url, url)

    hostile = outcomes["hostile"]
    assert hostile.status == "failed" and reason in hostile.error, hostile.error
    source = health(pipeline.sessions)["hostile"]
    assert source["last_status"] == "failed" and source["error_count"] == 1
    assert source["next_check_at"] > source["last_run_at"]  # backed off, not retried in a loop
    assert item_count(pipeline.sessions, Item.source_id == "hostile") == 0
    assert memory.growth_mb < MEMORY_BUDGET_MB
    assert_good_feed_unaffected(pipeline, outcomes)


# --- odd but legal encodings: ingested correctly ------------------------------------------

UMLAUT_ITEM = {"title": "Siemens AG: Münchner Zentrale erweitert", "link": "https://news.example.com/de/1",
               "guid": "de-1", "description": "Größer, schöner, grüner."}


@pytest.mark.parametrize("case", ["wrong_charset", "missing_charset", "utf16_bom", "latin1_declared"])
def test_wrong_missing_and_unusual_charsets_still_read_right(feed_server, write_config, sqlite_url, case):
    utf8 = rss_feed(UMLAUT_ITEM)
    body, content_type = {
        # The header lies (says Latin-1); the XML declaration and the bytes are UTF-8.
        "wrong_charset": (utf8.encode("utf-8"), "application/rss+xml; charset=iso-8859-1"),
        "missing_charset": (utf8.encode("utf-8"), "application/rss+xml"),
        "utf16_bom": (utf8.replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16"),
                      "application/rss+xml"),
        "latin1_declared": (utf8.replace('encoding="utf-8"', 'encoding="iso-8859-1"').encode("iso-8859-1"),
                            "text/xml"),
    }[case]
    url = feed_server.serve("/charset.xml", body, Content_Type=content_type)
    pipeline, outcomes, _ = run_beside_good_feed(feed_server, write_config, sqlite_url, url)
    assert outcomes["hostile"].status == "ok", outcomes["hostile"].error
    with pipeline.sessions() as session:
        [item] = session.query(Item).filter(Item.source_id == "hostile").all()
        assert item.title == UMLAUT_ITEM["title"]
        assert "Größer" in item.summary
    assert_good_feed_unaffected(pipeline, outcomes)


def test_nul_and_control_characters_are_stored_without_them(feed_server, write_config, database_url):
    """PostgreSQL text cannot hold NUL; a feed full of control characters must still store cleanly."""
    dirty = {"title": "Siemens\x00 AG\x07 wins\x1b[31m contract\x0c", "link": "https://news.example.com/nul",
             "guid": "nul-1", "description": "Bad\x00bytes\x01 here\x1f."}
    # &#0; is not even legal XML; raw control bytes are what broken CMSs emit.
    body = rss_feed(dirty).encode("utf-8").replace(b"here", b"here &#0; &#x1;")
    url = feed_server.serve("/nul.xml", body, Content_Type="application/rss+xml")
    pipeline, outcomes, _ = run_beside_good_feed(feed_server, write_config, database_url, url)
    assert outcomes["hostile"].status == "ok", outcomes["hostile"].error
    with pipeline.sessions() as session:
        [item] = session.query(Item).filter(Item.source_id == "hostile").all()
        stored = item.title + item.summary
    assert not any(ord(c) < 32 and c not in "\t\n\r" for c in stored), repr(stored)
    assert "Siemens" in item.title and "contract" in item.title
    assert_good_feed_unaffected(pipeline, outcomes)


BIG_FEED = 20_000


@pytest.mark.slow
def test_a_big_feed_is_stored_whole_once(feed_server, write_config, database_url):
    rng = random.Random(BIG_FEED)
    words = vocabulary()
    many = [{"title": f"Note {n}: " + " ".join(rng.sample(words, 6)), "guid": f"many-{n}",
             "link": f"https://news.example.com/many/{n}", "description": "Short."} for n in range(BIG_FEED)]
    url = feed_server.serve("/many.xml", rss_feed(*many), Content_Type="application/rss+xml")
    config = write_config([{"id": "hostile", "kind": "rss", "url": url}, serve_good_feed(feed_server)],
                          database=database_url, http={"max_body_mb": 15})
    pipeline, worker = start_pipeline(config)
    warm_up(pipeline)
    with rss_growth() as memory:
        outcomes = {o.source_id: o for o in finishes(worker.tick, within=1200)}
    assert outcomes["hostile"].status == "ok" and outcomes["hostile"].counts.new == BIG_FEED
    assert item_count(pipeline.sessions, Item.source_id == "hostile") == BIG_FEED
    assert memory.growth_mb < 400
    [again] = worker.tick(only="hostile")
    assert (again.counts.new, again.counts.seen) == (0, BIG_FEED)
    assert item_count(pipeline.sessions, Item.source_id == "hostile") == BIG_FEED
    assert_good_feed_unaffected(pipeline, outcomes)

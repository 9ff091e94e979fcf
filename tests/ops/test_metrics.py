"""/metrics: Prometheus text with fetches, latency, items, tagging, feed requests, 304s and queue depth."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from intel.cli import _api_app
from intel.clock import utcnow
from models.tables import Source
from tests.conftest import rss_feed, start_pipeline


def scrape(client: TestClient) -> dict[tuple[str, tuple], float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_follow_fetches_feeds_and_the_queue(write_config, feed_server, database_url):
    feed_server.serve("/ok.xml", rss_feed(
        {"title": "Apple Inc. opens a new campus", "link": "https://n.example.com/1", "guid": "1",
         "description": "Apple Inc. (AAPL) said on Monday it will open a new campus."},
        {"title": "Siemens AG wins a rail contract", "link": "https://n.example.com/2", "guid": "2",
         "description": "Siemens AG (SIE) won a contract."}), ETag='"v1"')
    feed_server.serve("/broken.xml", "oops", status=500)
    config = write_config(sources=[{"id": "good", "kind": "rss", "url": feed_server.url("/ok.xml")},
                                   {"id": "bad", "kind": "rss", "url": feed_server.url("/broken.xml")}],
                          database=database_url, auth={"required": False})
    pipeline, worker = start_pipeline(config)
    client = TestClient(_api_app(config, pipeline.sessions))
    before = scrape(client)
    assert value(before, "intel_queue_depth") == 2  # both sources are due before the first tick
    try:
        worker.tick()
    finally:
        worker.stop()
        pipeline.close()

    after = scrape(client)
    delta = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert delta("intel_fetches_total", kind="rss", status="ok") == 1
    assert delta("intel_fetches_total", kind="rss", status="failed") == 1
    assert delta("intel_fetch_seconds_count", kind="rss") == 2
    assert delta("intel_items_ingested_total", change="new") == 2
    assert delta("intel_items_tagged_total") == 2 and delta("intel_tagging_seconds_total") > 0
    # Two runs stored (one of them its failure) and the claim: each a write transaction, timed.
    assert delta("intel_write_transactions_total") >= 3
    assert 0 < delta("intel_write_cpu_seconds_total") <= delta("intel_write_seconds_total")
    assert value(after, "intel_queue_depth") == 0
    assert value(after, "intel_sources", state="failing") == 1 and value(after, "intel_sources", state="healthy") == 1
    assert value(after, "intel_database_up") == 1

    # A feed reader polls twice; the second time its validators answer 304.
    first = client.get("/feeds/prospects/apple.atom")
    assert first.status_code == 200
    again = client.get("/feeds/prospects/apple.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    feeds = scrape(client)
    assert value(feeds, "intel_feed_requests_total", format="atom", status="200") - \
        value(after, "intel_feed_requests_total", format="atom", status="200") == 1
    assert value(feeds, "intel_feed_requests_total", format="atom", status="304") - \
        value(after, "intel_feed_requests_total", format="atom", status="304") == 1

    # Time passes: the good source is due again, so the queue grows.
    with pipeline.sessions.begin() as session:
        session.get(Source, "good").next_check_at = utcnow() - timedelta(minutes=1)
    assert value(scrape(client), "intel_queue_depth") == 1

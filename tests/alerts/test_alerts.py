"""Alerts end to end: stored signals -> rules -> webhooks on a real loopback receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from intel.alerts import AlertDispatcher
from intel.alerts.dispatcher import retry_delay
from intel.clock import utcnow
from intel.config import ConfigError
from intel.sync import sync_config
from models import alerts as alert_store
from models import repository
from models.db import make_engine, make_sessionmaker, upgrade
from models.values import ItemToStore, Mention, RunRecord, Signal

SECRET = "s3cret-for-tests"


# --- a real webhook receiver on 127.0.0.1 -----------------------------------------------------

@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers from `statuses` in turn (then 200)."""

    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def start(self) -> "Receiver":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status = owner.statuses.pop(0) if owner.statuses else 200
                self.send_response(status)
                for name, value in owner.headers.items():
                    self.send_header(name, value)
                answer = b"ok" if status < 300 else b"try later"
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.close()


def alerts_block(receiver: Receiver, **rule) -> dict:
    return {
        "webhooks": [
            {"name": "sales-slack", "format": "slack", "url": receiver.url("/slack")},
            {"name": "sales-teams", "format": "teams", "url": receiver.url("/teams")},
            {"name": "crm-hook", "format": "json", "url": receiver.url("/json"), "secret": "${ALERT_SECRET}"},
        ],
        "rules": [{"name": "hot-qualifying", "signal": ["funding", "leadership_change"], "min_score": 0.7,
                   "stage": ["qualifying"], "send_to": ["sales-slack", "sales-teams", "crm-hook"], **rule}],
        "backoff": "0.05s",
        "max_attempts": 3,
    }


@pytest.fixture
def setup(write_config, database_url, receiver, monkeypatch):
    """A migrated database with the default prospects and one source, and a dispatcher."""
    monkeypatch.setenv("ALERT_SECRET", SECRET)

    def make(**rule):
        config = write_config(sources=[{"id": "news", "kind": "rss", "url": receiver.url("/feed")}],
                              database=database_url, alerts=alerts_block(receiver, **rule))
        engine = make_engine(config.database)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        sync_config(sessions, config)
        dispatcher = AlertDispatcher(config.alerts, sessions)
        return config, sessions, dispatcher

    made = []

    def tracked(**rule):
        result = make(**rule)
        made.append(result[2])
        return result

    yield tracked
    for dispatcher in made:
        dispatcher.stop()


def store_item(sessions, key: str, *, title: str, prospect: str, signal: str, score: float,
               visibility: str = "external", content: str = "v1") -> None:
    """Store one item as a source run does (save_batch), with a mention and a signal."""
    now = utcnow()
    item = ItemToStore(dedup_key=key, title=title, content_hash=hashlib.sha256((title + content).encode()).hexdigest(),
                       url=f"https://news.example.com/{key}", summary=f"{title} <b>today</b> & more",
                       content=content, visibility=visibility, published_at=now,
                       mentions=(Mention(prospect, 0.9, ("name 'Apple' in title",)),),
                       signals=(Signal(signal, score, ("raised $50M in Series B",), prospect_id=prospect),))
    run = RunRecord(started_at=now, finished_at=now, status="ok", next_check_at=now + timedelta(hours=1))
    with sessions.begin() as session:
        repository.save_batch(session, "news", run, [item])


def deliveries(sessions) -> list[dict]:
    with sessions() as session:
        return alert_store.recent_deliveries(session, limit=100)


def test_a_matching_signal_reaches_slack_teams_and_a_signed_json_hook(setup, receiver):
    _, sessions, dispatcher = setup()
    store_item(sessions, "a1", title="Apple raises $50M <Series B>", prospect="apple", signal="funding", score=0.9)

    queued, sent = dispatcher.tick()

    assert (queued, sent) == (3, 3)
    slack = receiver.to("/slack")[0].json()
    assert "Funding at Apple Inc. (qualifying)" in slack["text"]
    section = slack["blocks"][0]["text"]["text"]
    # Slack control characters in feed text are escaped, the link is Slack's <url|title> form.
    assert "<https://news.example.com/a1|Apple raises $50M &lt;Series B&gt;>" in section
    assert "rule hot-qualifying" in slack["blocks"][1]["elements"][0]["text"]

    teams = receiver.to("/teams")[0].json()
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    assert card["content"]["actions"][0]["url"] == "https://news.example.com/a1"
    facts = {f["title"]: f["value"] for f in card["content"]["body"][2]["facts"]}
    assert facts["Prospect"] == "Apple Inc. (qualifying)" and facts["Signals"] == "funding 0.90"

    hook = receiver.to("/json")[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(hook.headers["x-intel-signature-256"], expected)
    payload = hook.json()
    assert payload["prospects"][0]["id"] == "apple" and payload["signals"][0]["type"] == "funding"
    assert payload["item"]["url"] == "https://news.example.com/a1"
    # Summaries go out as plain text: markup from the feed is stripped.
    assert payload["item"]["summary"].endswith("today & more") and "<b>" not in payload["item"]["summary"]
    assert hook.headers["x-intel-delivery"] == str(payload["delivery_id"])
    # Slack and Teams carry no signature: their URLs are the secret.
    assert "x-intel-signature-256" not in receiver.to("/slack")[0].headers
    assert {d["status"] for d in deliveries(sessions)} == {"sent"}


def test_a_tampered_body_fails_the_signature_check(setup, receiver):
    _, sessions, dispatcher = setup()
    store_item(sessions, "a1", title="Apple raises money", prospect="apple", signal="funding", score=0.9)
    dispatcher.tick()
    hook = receiver.to("/json")[0]
    tampered = hook.body.replace(b"Apple", b"Apfel")
    recomputed = "sha256=" + hmac.new(SECRET.encode(), tampered, hashlib.sha256).hexdigest()
    assert recomputed != hook.headers["x-intel-signature-256"]


def test_only_signals_matching_the_rule_alert(setup, receiver):
    _, sessions, dispatcher = setup()
    store_item(sessions, "weak", title="Apple may raise money", prospect="apple", signal="funding", score=0.5)
    store_item(sessions, "other-type", title="Apple opens an office", prospect="apple", signal="expansion",
               score=0.95)
    store_item(sessions, "wrong-stage", title="Siemens raises money", prospect="siemens", signal="funding",
               score=0.95)  # siemens is in prospecting
    store_item(sessions, "internal", title="Apple CRM note: funding", prospect="apple", signal="funding",
               score=0.95, visibility="internal")
    store_item(sessions, "hit", title="Apple names a new CFO", prospect="apple", signal="leadership_change",
               score=0.8)

    dispatcher.tick()

    titles = {r.json()["item"]["title"] for r in receiver.to("/json")}
    assert titles == {"Apple names a new CFO"}
    assert len(receiver.to("/slack")) == 1


def test_internal_items_alert_only_when_the_rule_allows(setup, receiver):
    _, sessions, dispatcher = setup(internal=True)
    store_item(sessions, "internal", title="Apple CRM note: funding approved", prospect="apple",
               signal="funding", score=0.95, visibility="internal")
    dispatcher.tick()
    assert [r.json()["item"]["title"] for r in receiver.to("/json")] == ["Apple CRM note: funding approved"]


def test_an_item_is_never_sent_twice_to_the_same_webhook(setup, receiver):
    _, sessions, dispatcher = setup()
    store_item(sessions, "a1", title="Apple raises money", prospect="apple", signal="funding", score=0.9)
    dispatcher.tick()
    # The item changes (its signals are stored again) and a second matching signal type arrives.
    store_item(sessions, "a1", title="Apple raises money", prospect="apple", signal="leadership_change",
               score=0.9, content="v2")
    dispatcher.tick()
    dispatcher.tick()

    assert len(receiver.to("/slack")) == 1
    assert len(receiver.to("/teams")) == 1
    assert len(receiver.to("/json")) == 1
    assert len(deliveries(sessions)) == 3


def test_failed_deliveries_retry_with_backoff_and_are_recorded(setup, receiver):
    _, sessions, dispatcher = setup(send_to=["crm-hook"])
    receiver.statuses = [503, 500]  # two failures, then the receiver recovers
    store_item(sessions, "a1", title="Apple raises money", prospect="apple", signal="funding", score=0.9)

    dispatcher.tick()
    first = deliveries(sessions)[0]
    assert (first["status"], first["attempts"], first["http_status"]) == ("pending", 1, 503)
    assert "HTTP 503" in first["last_error"]

    dispatcher.tick()  # not yet due: the backoff has not passed
    assert len(receiver.to("/json")) in (1, 2)
    for _ in range(40):
        if deliveries(sessions)[0]["status"] == "sent":
            break
        time.sleep(0.05)
        dispatcher.tick()

    final = deliveries(sessions)[0]
    assert (final["status"], final["attempts"], final["http_status"]) == ("sent", 3, 200)
    bodies = [r.body for r in receiver.to("/json")]
    assert len(bodies) == 3
    # Every attempt carries the same delivery id, so a receiver can drop duplicates.
    assert len({r.headers["x-intel-delivery"] for r in receiver.to("/json")}) == 1


def test_a_delivery_gives_up_after_max_attempts(setup, receiver):
    _, sessions, dispatcher = setup(send_to=["crm-hook"])
    receiver.statuses = [503] * 10
    store_item(sessions, "a1", title="Apple raises money", prospect="apple", signal="funding", score=0.9)
    for _ in range(60):
        dispatcher.tick()
        if deliveries(sessions)[0]["status"] == "failed":
            break
        time.sleep(0.05)
    final = deliveries(sessions)[0]
    assert (final["status"], final["attempts"]) == ("failed", 3)
    assert len(receiver.to("/json")) == 3


def test_a_rejected_webhook_is_not_retried(setup, receiver):
    _, sessions, dispatcher = setup(send_to=["sales-slack"])
    receiver.statuses = [404]  # Slack's answer for a deleted webhook
    store_item(sessions, "a1", title="Apple raises money", prospect="apple", signal="funding", score=0.9)
    dispatcher.tick()
    dispatcher.tick()
    final = deliveries(sessions)[0]
    assert (final["status"], final["attempts"], final["http_status"]) == ("failed", 1, 404)
    assert len(receiver.to("/slack")) == 1


def test_an_unreachable_webhook_is_retried_and_its_url_never_logged(setup, receiver, caplog):
    _, sessions, dispatcher = setup(send_to=["sales-slack"])
    store_item(sessions, "a1", title="Apple raises money", prospect="apple", signal="funding", score=0.9)
    url = receiver.url("/slack")
    receiver.close()  # nothing listens any more
    with caplog.at_level("INFO"):
        dispatcher.tick()
    row = deliveries(sessions)[0]
    assert row["status"] == "pending" and row["attempts"] == 1 and "ConnectError" in row["last_error"]
    assert url not in caplog.text and url not in row["last_error"]
    receiver.start()  # restarted for the fixture's teardown


def test_ingestion_never_waits_for_webhooks(write_config, database_url, receiver, feed_server, monkeypatch):
    """A source run stores signals and returns; only the alerts job talks to webhooks."""
    from tests.conftest import rss_feed, start_pipeline

    monkeypatch.setenv("ALERT_SECRET", SECRET)
    feed_server.serve("/feed.xml", rss_feed({"title": "Apple Inc. raises $2 billion in new funding round",
                                             "link": "https://news.example.com/x", "guid": "x",
                                             "description": "Apple Inc. said on Monday it raised $2 billion."}))
    config = write_config(sources=[{"id": "news", "kind": "rss", "url": feed_server.url("/feed.xml")}],
                          database=database_url, alerts=alerts_block(receiver, min_score=0.0))
    pipeline, worker = start_pipeline(config)
    try:
        outcomes = worker.tick()
    finally:
        worker.stop()
        pipeline.close()
    assert [o.status for o in outcomes] == ["ok"]
    assert receiver.received == []  # the source run did not wait on any webhook
    dispatcher = AlertDispatcher(config.alerts, pipeline.sessions)
    try:
        dispatcher.tick()
    finally:
        dispatcher.stop()
    with pipeline.sessions() as session:
        signals = [s for i in repository.items_feed(session, _all_filters(), limit=10) for s in i.signals]
    if any(s.type == "funding" for s in signals):
        assert len(receiver.to("/json")) == 1
    else:  # the signal classifier did not call this funding; nothing may be sent
        assert receiver.received == []


def _all_filters():
    from models.values import FeedFilters
    return FeedFilters(visibilities=("external", "internal"))


def test_signals_from_before_alerts_existed_never_alert(setup, receiver):
    _, sessions, dispatcher = setup(max_age="1s")
    store_item(sessions, "old", title="Apple raises money", prospect="apple", signal="funding", score=0.9)
    time.sleep(1.1)  # the item is now older than the rule's max_age
    dispatcher.tick()
    assert receiver.received == []
    with sessions() as session:
        assert alert_store.claim_unchecked_signals(session, limit=10) == []  # looked at once, done


def test_backoff_doubles_and_respects_retry_after(setup):
    config, _, _ = setup()
    delays = [retry_delay(n, config.alerts) for n in (1, 2, 3)]
    assert 0.04 <= delays[0] <= 0.06 and 0.08 <= delays[1] <= 0.12 and 0.16 <= delays[2] <= 0.24
    assert retry_delay(1, config.alerts, retry_after=120) == 120


def test_alert_config_errors_point_at_the_line(write_config, receiver, monkeypatch):
    monkeypatch.setenv("ALERT_SECRET", SECRET)
    block = alerts_block(receiver)
    block["rules"][0]["send_to"] = ["sales-slack", "nowhere"]
    with pytest.raises(ConfigError) as caught:
        write_config(alerts=block)
    message = str(caught.value)
    assert "nowhere" in message and "not a webhook name" in message
    problem = caught.value.problems[0]
    assert problem.field == "alerts" and problem.line > 1  # FILE:LINE:COL of the alerts block

    unsigned = alerts_block(receiver)
    del unsigned["webhooks"][2]["secret"]
    with pytest.raises(ConfigError) as caught:
        write_config(alerts=unsigned)
    assert "alerts.webhooks.2" in str(caught.value) and "secret" in str(caught.value)


def test_the_webhook_secret_never_shows_in_the_loaded_config(write_config, receiver, monkeypatch):
    monkeypatch.setenv("ALERT_SECRET", SECRET)
    config = write_config(alerts=alerts_block(receiver))
    assert SECRET not in repr(config) and SECRET not in str(config.alerts.webhooks[2])
    assert config.alerts.webhooks[2].secret.get_secret_value() == SECRET

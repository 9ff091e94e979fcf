"""SSRF: every notation of loopback, private, link-local, CGNAT and metadata addresses is refused,
written directly in the URL, behind a DNS name (injected resolver) and behind a redirect hop.

No packet ever leaves for those ranges: the socket layer under the guard is
wrapped so that any connection attempt to anything but our own 127.0.0.1
server is recorded and blocked, and the test asserts there were none.
"""

from __future__ import annotations

import httpcore
import pytest

from connectors.base import FetchError, SourceSpec
from connectors.http import HttpLimits, PoliteClient
from connectors.netguard import AddressRefused
from intel.pipeline import Pipeline
from intel.sync import sync_config
from models.db import make_engine, make_sessionmaker, upgrade
from tests.reliability.conftest import GOOD_ITEMS, health, serve_good_feed

# (how the host is written in a URL, what it means)
FORBIDDEN_HOSTS = [
    ("127.0.0.1", "loopback"), ("127.1", "loopback"), ("127.255.255.254", "loopback"),
    ("2130706433", "loopback"), ("0x7f000001", "loopback"), ("0x7f.0.0.1", "loopback"), ("0x7f.1", "loopback"),
    ("0177.0.0.1", "loopback"), ("017700000001", "loopback"), ("[::1]", "loopback"),
    ("[0:0:0:0:0:0:0:1]", "loopback"), ("[::ffff:127.0.0.1]", "loopback"), ("[::ffff:7f00:1]", "loopback"),
    ("localhost", "loopback"),
    ("0.0.0.0", "unspecified"), ("0", "unspecified"), ("[::]", "unspecified"),
    ("10.0.0.1", "private"), ("10.255.255.255", "private"), ("172.16.0.1", "private"),
    ("172.31.255.1", "private"), ("192.168.0.1", "private"), ("0xc0.0xa8.0.1", "private"),
    ("3232235521", "private"), ("[::ffff:10.0.0.1]", "private"), ("[::ffff:192.168.1.1]", "private"),
    ("[fd00::1]", "private"), ("[fc00::1]", "private"), ("[fd00:ec2::254]", "private"),
    ("169.254.169.254", "link-local"), ("2852039166", "link-local"), ("0xa9fea9fe", "link-local"),
    ("0251.0376.0251.0376", "link-local"), ("[::ffff:169.254.169.254]", "link-local"),
    ("[::ffff:a9fe:a9fe]", "link-local"), ("[fe80::1]", "link-local"), ("[64:ff9b::a9fe:a9fe]", "link-local"),
    ("[2002:a9fe:a9fe::1]", "link-local"),
    ("100.64.0.1", "non-public"), ("100.127.255.254", "non-public"), ("100.100.100.200", "non-public"),
    ("192.0.0.192", "non-public"), ("198.18.0.1", "non-public"), ("240.0.0.1", "non-public"),
    ("224.0.0.1", "multicast"), ("[ff02::1]", "multicast"),
]
# A name may resolve to any of these; a name with one bad address among good ones is refused too.
FORBIDDEN_ANSWERS = ["127.0.0.1", "10.1.2.3", "172.20.0.5", "192.168.10.10", "169.254.169.254", "100.64.1.1",
                     "0.0.0.0", "::1", "::ffff:127.0.0.1", "fd00::5", "fe80::1", "fd00:ec2::254"]
PUBLIC = "93.184.216.34"


@pytest.fixture
def connects(monkeypatch, feed_server):
    """Every TCP connect under the guard; anything but our loopback server's port is blocked."""
    attempts: list[tuple[str, int]] = []
    real_connect = httpcore.SyncBackend.connect_tcp

    def guarded_connect(self, host, port, *args, **kwargs):
        attempts.append((host, port))
        if (host, port) != ("127.0.0.1", feed_server.httpd.server_address[1]):
            raise httpcore.ConnectError(f"test network: no traffic to {host}:{port}")
        return real_connect(self, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", guarded_connect)
    return attempts


def resolver_for(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise FetchError(f"cannot resolve {host}")
        return table[host]
    return resolve


def client_with(resolver=None) -> PoliteClient:
    limits = HttpLimits(deadline=3, read_timeout=2, connect_timeout=2)
    return PoliteClient(limits=limits, resolver=resolver or resolver_for({"localhost": ["127.0.0.1"]}))


def spec(url: str, allow_private: bool = False) -> SourceSpec:
    return SourceSpec(id="s", kind="rss", url=url, allow_private=allow_private)


@pytest.mark.parametrize("host, kind", FORBIDDEN_HOSTS, ids=[h for h, _ in FORBIDDEN_HOSTS])
def test_every_notation_is_refused_directly(host, kind, connects, feed_server):
    port = feed_server.httpd.server_address[1]
    client = client_with()
    try:
        with pytest.raises(FetchError) as refused:
            client.get(spec(f"http://{host}:{port}/latest/meta-data/"))
    finally:
        client.close()
    reason = str(refused.value)
    if "not a valid URL" not in reason:  # httpx itself rejects leading-zero octets: also never fetched
        assert isinstance(refused.value, AddressRefused)
        assert kind in reason or (kind == "non-public" and any(
            word in reason for word in ("reserved", "private", "special-purpose"))), reason
    assert connects == [] and feed_server.requests == []


@pytest.mark.parametrize("answer", FORBIDDEN_ANSWERS)
def test_every_forbidden_dns_answer_is_refused(answer, connects, feed_server):
    client = client_with(resolver_for({"innocent.example": [answer], "mixed.example": [PUBLIC, answer]}))
    try:
        for host in ("innocent.example", "mixed.example"):
            with pytest.raises(AddressRefused, match="refusing to fetch from " + host.replace(".", r"\.")):
                client.get(spec(f"http://{host}/feed.xml"))
    finally:
        client.close()
    assert connects == []


@pytest.mark.parametrize("target", [
    "http://169.254.169.254/latest/meta-data/iam/", "http://2130706433/admin", "http://[::ffff:10.0.0.1]/",
    "http://0x7f.1:{port}/secret", "http://localhost:{port}/secret", "http://100.100.100.200/",
    "http://metadata.google.internal/computeMetadata/v1/", "http://rebind.example/",
    "http://[fd00:ec2::254]/latest/", "http://0/",
])
def test_a_redirect_hop_to_any_of_them_is_refused(target, connects, feed_server):
    """The source's own host is opted in (an intranet feed); where it redirects to is not."""
    port = feed_server.httpd.server_address[1]
    target = target.format(port=port)
    feed_server.serve("/secret", "internal only")
    feed_server.serve("/hop", b"", status=302, Location=target)
    feed_server.serve("/first", b"", status=301, Location=feed_server.url("/hop"))
    client = client_with(resolver_for({"metadata.google.internal": ["169.254.169.254"],
                                       "rebind.example": [PUBLIC, "127.0.0.1"], "localhost": ["127.0.0.1"]}))
    try:
        with pytest.raises(AddressRefused):
            client.get(spec(feed_server.url("/first"), allow_private=True))
    finally:
        client.close()
    assert [r.path for r in feed_server.requests] == ["/first", "/hop"]  # never /secret
    assert all(host == "127.0.0.1" and p == port for host, p in connects)


def test_a_redirect_to_metadata_fails_the_source_run_and_not_its_neighbours(feed_server, write_config,
                                                                               database_url, connects):
    feed_server.serve("/hop", b"", status=302, Location="http://metadata.internal/latest/meta-data/")
    config = write_config([{"id": "hop", "kind": "rss", "url": feed_server.url("/hop")},
                           serve_good_feed(feed_server)], database=database_url)
    engine = make_engine(config.database)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    sync_config(sessions, config)
    pipeline = Pipeline(config, sessions, client=client_with(resolver_for({"metadata.internal": ["169.254.169.254"]})))
    try:
        outcomes = {state: pipeline.run_source(s) for state, s in _claim_all(sessions)}
    finally:
        pipeline.close()
    assert outcomes["hop"].status == "failed"
    assert "169.254.169.254" in outcomes["hop"].error and "link-local" in outcomes["hop"].error
    assert health(sessions)["hop"]["last_error"] == outcomes["hop"].error
    assert outcomes["good"].status == "ok" and outcomes["good"].counts.new == len(GOOD_ITEMS)
    assert all(host == "127.0.0.1" for host, _ in connects)


def _claim_all(sessions):
    from datetime import timedelta

    from intel.clock import utcnow
    from models import repository

    with sessions.begin() as session:
        claimed = repository.claim_due_sources(session, now=utcnow(), owner="t", lease=timedelta(minutes=5),
                                               limit=10, only=None)
    return [(s.id, s) for s in claimed]


def test_template_and_redirect_sources_never_read_files(feed_server, connects):
    """file: is for config-written sources only; a redirect to file:///etc/passwd is refused."""
    feed_server.serve("/to-file", b"", status=302, Location="file:///etc/passwd")
    client = client_with()
    try:
        with pytest.raises(FetchError, match="non-HTTP"):
            client.get(spec(feed_server.url("/to-file"), allow_private=True))
        with pytest.raises(FetchError, match="file: URLs are allowed only in config"):
            client.get(SourceSpec(id="t", kind="rss", url="file:///etc/passwd", allow_file=False))
    finally:
        client.close()

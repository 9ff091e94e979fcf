"""The polite HTTP client against real loopback servers: limits, hints, guard, robots."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from connectors.base import FetchError, SourceSpec
from connectors.http import HttpLimits, PoliteClient, retry_after_seconds
from connectors.netguard import AddressRefused, check_host, literal_address
from tests.conftest import FeedServer, rss_feed

FEED = rss_feed({"title": "Siemens AG opens a plant", "link": "https://news.example.com/1", "guid": "1"})


def spec(url: str, **kw) -> SourceSpec:
    return SourceSpec(id="s", kind="rss", url=url, **{"allow_private": True, **kw})


@pytest.fixture
def client():
    made = PoliteClient(limits=HttpLimits(deadline=2.0, read_timeout=2.0, connect_timeout=2.0))
    yield made
    made.close()


def fake_resolver(table: dict[str, list[str]], lookups: list[str]):
    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return table[host]
    return resolve


# --- total deadline --------------------------------------------------------------------------

class Drip:
    """A handler that sends a little every 50 ms for up to 20 s, and notes when the client left."""

    def __init__(self, in_headers: bool) -> None:
        self.in_headers = in_headers
        self.sent = 0
        self.client_left = threading.Event()

    def __call__(self, handler) -> None:
        try:
            if self.in_headers:
                handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
            else:
                handler.send_response(200)
                handler.send_header("Content-Length", "100000")
                handler.end_headers()
            for _ in range(400):
                handler.wfile.write(b"X-Slow: a\r\n" if self.in_headers else b"x")
                handler.wfile.flush()
                self.sent += 1
                time.sleep(0.05)
        except OSError:
            self.client_left.set()
        handler.close_connection = True


@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_a_slow_drip_server_is_cut_at_the_total_deadline(feed_server, in_headers):
    drip = Drip(in_headers)
    feed_server.serve("/slow")
    feed_server.routes["/slow"].handler = drip
    client = PoliteClient(limits=HttpLimits(deadline=0.5, read_timeout=10, connect_timeout=10))
    try:
        with pytest.raises(FetchError, match="total deadline 0.5s"):
            client.get(spec(feed_server.url("/slow")))
    finally:
        client.close()
    # The client hung up long before the server ran out of bytes to drip.
    assert drip.client_left.wait(10)
    assert drip.sent < 400


# --- decoded size cap ------------------------------------------------------------------------

def test_a_gzip_bomb_is_cut_at_the_decoded_cap(feed_server):
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    assert len(bomb) < 64 * 1024  # small on the wire ...
    feed_server.serve("/bomb", bomb, Content_Encoding="gzip", Content_Type="application/rss+xml")
    client = PoliteClient(limits=HttpLimits(max_body_bytes=1024 * 1024))
    try:
        with pytest.raises(FetchError, match="larger than 1048576 bytes once decoded"):
            client.get(spec(feed_server.url("/bomb")))  # ... 20 MiB once inflated
    finally:
        client.close()


@pytest.mark.parametrize("encoding, compress", [
    ("gzip", gzip.compress), ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
], ids=["gzip", "deflate", "raw-deflate"])
def test_compressed_bodies_under_the_cap_decode(feed_server, client, encoding, compress):
    feed_server.serve("/feed", compress(FEED.encode()), Content_Encoding=encoding)
    response = client.get(spec(feed_server.url("/feed")))
    assert response.body == FEED.encode()
    assert feed_server.requests[-1].headers["accept-encoding"] == "gzip, deflate"


def test_a_plain_body_over_the_cap_is_refused(feed_server):
    feed_server.serve("/big", b"x" * 5000)
    client = PoliteClient(limits=HttpLimits(max_body_bytes=4096))
    try:
        with pytest.raises(FetchError, match="larger than 4096 bytes"):
            client.get(spec(feed_server.url("/big")))
    finally:
        client.close()


# --- per-host concurrency ----------------------------------------------------------------------

def test_at_most_two_requests_per_host_at_once(feed_server, client):
    lock = threading.Lock()
    active = {"now": 0, "max": 0}

    def slow(handler):
        with lock:
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
        time.sleep(0.2)
        with lock:
            active["now"] -= 1
        handler.answer(200, FEED.encode())

    feed_server.serve("/feed")
    feed_server.routes["/feed"].handler = slow
    threads = [threading.Thread(target=client.get, args=(spec(feed_server.url("/feed")),)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(feed_server.requests_to("/feed")) == 6
    assert active["max"] == 2


# --- hints -------------------------------------------------------------------------------------

def test_retry_after_is_read_as_seconds_or_as_a_date(feed_server, client):
    feed_server.serve("/busy", "slow down", status=429, Retry_After="3600")
    with pytest.raises(FetchError) as caught:
        client.get(spec(feed_server.url("/busy")))
    assert (caught.value.http_status, caught.value.retry_after) == (429, 3600.0)

    later = datetime.now(timezone.utc) + timedelta(hours=2)
    feed_server.serve("/down", "maintenance", status=503, Retry_After=format_datetime(later, usegmt=True))
    with pytest.raises(FetchError) as caught:
        client.get(spec(feed_server.url("/down")))
    assert caught.value.http_status == 503
    assert 7000 < caught.value.retry_after <= 7200
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert retry_after_seconds("Thu, 01 Jan 2026 00:10:00 GMT", now) == 600


# --- the private-address guard -----------------------------------------------------------------

@pytest.mark.parametrize("host", [
    "127.0.0.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "127.1", "[::1]", "[::ffff:127.0.0.1]",
    "10.1.2.3", "172.16.0.1", "192.168.0.10", "169.254.169.254", "0xa9.0xfe.0xa9.0xfe", "2852039166",
    "[::ffff:a9fe:a9fe]", "[fd00:ec2::254]", "[fe80::1]", "100.100.100.200", "0.0.0.0", "[::]",
    "[64:ff9b::a00:1]", "[2002:7f00:1::]", "224.0.0.1", "240.0.0.1",
])
def test_private_loopback_link_local_and_metadata_addresses_are_refused(host):
    with pytest.raises(AddressRefused):
        check_host(host, 80, resolver=lambda h, p: pytest.fail("a literal address needs no lookup"))


def test_odd_notations_mean_what_the_c_resolver_says():
    assert str(literal_address("2130706433")) == "127.0.0.1"
    assert str(literal_address("0x7f.1")) == "127.0.0.1"
    assert str(literal_address("0177.0.0.1")) == "127.0.0.1"
    assert literal_address("cafe.be") is None


def test_a_name_is_refused_when_any_of_its_addresses_is_private():
    lookups: list[str] = []
    resolver = fake_resolver({"mixed.test": ["93.184.216.34", "192.168.1.4"],
                              "public.test": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]}, lookups)
    with pytest.raises(AddressRefused, match="192.168.1.4"):
        check_host("mixed.test", 443, resolver)
    assert check_host("public.test", 443, resolver) == ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    assert lookups == ["mixed.test", "public.test"]


def test_a_source_without_opt_in_never_reaches_a_private_address(feed_server, client):
    feed_server.serve("/feed", FEED)
    for url in (feed_server.url("/feed"), feed_server.url("/feed").replace("127.0.0.1", "2130706433")):
        with pytest.raises(AddressRefused, match="loopback"):
            client.get(spec(url, allow_private=False))
    assert feed_server.requests == []


@pytest.mark.parametrize("target, address", [
    ("http://intranet.test:{port}/admin", "10.0.0.8"),
    ("http://metadata.test/latest/meta-data/", "169.254.169.254"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
    ("http://[::ffff:10.0.0.8]:{port}/", "::ffff:a00:8"),
    ("http://localhost:{port}/feed", "127.0.0.1"),
])
def test_a_redirect_hop_to_a_private_address_is_refused(feed_server, target, address):
    """The opted-in host may be private; a redirect may not lead anywhere else private."""
    port = feed_server.httpd.server_address[1]
    lookups: list[str] = []
    client = PoliteClient(resolver=fake_resolver({"intranet.test": ["10.0.0.8"], "metadata.test": ["169.254.169.254"],
                                                  "localhost": ["127.0.0.1"]}, lookups))
    feed_server.serve("/start", status=302, Location=target.format(port=port))
    feed_server.serve("/feed", FEED)
    try:
        with pytest.raises(AddressRefused, match=f"resolves to {address}"):
            client.get(spec(feed_server.url("/start")))
    finally:
        client.close()
    assert [r.path for r in feed_server.requests] == ["/start"]  # nothing else was reached


def test_file_urls_only_from_config_never_from_a_redirect(feed_server, client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    feed_server.serve("/start", status=301, Location=secret.as_uri())
    with pytest.raises(FetchError, match="non-HTTP URL"):
        client.get(spec(feed_server.url("/start"), allow_file=True))
    with pytest.raises(FetchError, match="only in config"):
        client.get(spec(secret.as_uri(), allow_file=False))
    assert client.get(spec(secret.as_uri(), allow_file=True)).body == b"do not read"


def test_api_headers_are_not_sent_to_another_origin_after_a_redirect(feed_server, client):
    other = FeedServer()  # same host, another port: another origin
    try:
        other.serve("/moved", "{}")
        feed_server.serve("/api", status=302, Location=other.url("/moved"))
        client.get(spec(feed_server.url("/api")), headers={"Authorization": "Bearer secret"})
    finally:
        other.close()
    assert feed_server.requests[0].headers["authorization"] == "Bearer secret"
    assert "authorization" not in other.requests[0].headers


# --- robots.txt --------------------------------------------------------------------------------

def test_robots_txt_is_respected_and_fetched_once_per_host(feed_server, client):
    feed_server.serve("/robots.txt", "User-agent: *\nDisallow: /private/\n\nUser-agent: BadBot\nDisallow: /\n")
    feed_server.serve("/news", "<html></html>")
    feed_server.serve("/news2", "<html></html>")
    feed_server.serve("/private/page", "<html></html>")
    client.get(spec(feed_server.url("/news")), robots=True)
    client.get(spec(feed_server.url("/news2")), robots=True)
    with pytest.raises(FetchError, match="robots.txt .* disallows"):
        client.get(spec(feed_server.url("/private/page")), robots=True)
    assert len(feed_server.requests_to("/robots.txt")) == 1
    assert feed_server.requests_to("/private/page") == []
    # A connector that does not ask (feeds, APIs) is not held back.
    client.get(spec(feed_server.url("/private/page")), robots=False)


def test_missing_robots_allows_and_failing_robots_disallows(feed_server, client):
    feed_server.serve("/page", "<html></html>")
    client.get(spec(feed_server.url("/page")), robots=True)  # 404 robots.txt: everything allowed
    other = PoliteClient()
    feed_server.serve("/robots.txt", "oops", status=500)
    try:
        with pytest.raises(FetchError, match="disallows"):
            other.get(spec(feed_server.url("/page")), robots=True)
    finally:
        other.close()


def test_cache_control_beats_expires_and_a_past_expires_means_no_floor():
    from httpx import Headers

    from connectors.http import min_interval_from_headers

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert min_interval_from_headers(Headers({"expires": "Thu, 01 Jan 2026 02:00:00 GMT"}), now) == 7200
    assert min_interval_from_headers(Headers({"cache-control": "public, max-age=600",
                                              "expires": "Thu, 01 Jan 2026 02:00:00 GMT"}), now) == 600
    assert min_interval_from_headers(Headers({"expires": "Wed, 31 Dec 2025 00:00:00 GMT"}), now) == 0
    assert min_interval_from_headers(Headers({"expires": "0"}), now) is None


def test_page_text_is_decoded_by_header_then_utf8_then_meta_charset(feed_server, client):
    page = '<html><head><meta charset="windows-1252"></head><body>Müller Café</body></html>'
    feed_server.serve("/cp1252", page.encode("cp1252"), Content_Type="text/html")
    feed_server.serve("/utf8", page.encode("utf-8"), Content_Type="text/html")
    feed_server.serve("/latin", page.encode("latin-1"), Content_Type="text/html; charset=ISO-8859-1")
    for path in ("/cp1252", "/utf8", "/latin"):
        assert "Müller Café" in client.get(spec(feed_server.url(path))).text()

"""The one polite HTTP client every connector fetches through.

Conditional GET with the validators stored verbatim; a User-Agent that names
us; a per-host concurrency cap; a total deadline per fetch, enforced on every
socket operation (see `connectors.netguard`); a cap on the *decoded* body,
enforced while inflating so a compressed bomb cannot grow past it; private
addresses refused on the resolved address for every hop except the source's
own opted-in host; robots.txt honoured when a connector asks for it; `file:`
URLs only for sources that came from config.
"""

from __future__ import annotations

import email.utils
import functools
import re
import ssl
import threading
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Mapping
from urllib.parse import unquote, urljoin, urlsplit

import httpcore
import httpx

from connectors.base import FetchError, GoneError, SourceSpec
from connectors.netguard import GuardedBackend, Resolver, deadline_after, system_resolver


def _version() -> str:
    try:
        return metadata.version("prospect-intel")
    except metadata.PackageNotFoundError:  # running from a checkout that is not installed
        return "0.1.0"


__version__ = _version()
PRODUCT_TOKEN = "prospect-intel"
DEFAULT_USER_AGENT = f"{PRODUCT_TOKEN}/{__version__} (+https://github.com/prospect-intel)"
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
PERMANENT_REDIRECTS = {301, 308}
# We decode these ourselves (bounded); nothing else is advertised.
ACCEPT_ENCODING = "gzip, deflate"


def user_agent_with_contact(contact: str | None) -> str:
    return f"{DEFAULT_USER_AGENT[:-1]}; {contact})" if contact else DEFAULT_USER_AGENT


@dataclass(frozen=True)
class HttpLimits:
    connect_timeout: float = 10.0
    read_timeout: float = 15.0
    deadline: float = 20.0
    max_body_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    per_host: int = 2


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    headers: httpx.Headers
    url: str
    # The URL a 301/308 chain settled on, for the source to be updated to.
    permanent_url: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def text(self) -> str:
        """The body as text: the charset the server named, else UTF-8, else the page's <meta>, else a guess."""
        charset = _charset(self.headers.get("content-type", ""))
        for candidate in (charset, "utf-8", _meta_charset(self.body)):
            if candidate:
                try:
                    return self.body.decode(candidate)
                except (LookupError, UnicodeDecodeError):
                    continue
        from charset_normalizer import from_bytes

        best = from_bytes(self.body).best()
        return str(best) if best is not None else self.body.decode("utf-8", "replace")


@dataclass
class PoliteClient:
    user_agent: str = DEFAULT_USER_AGENT
    limits: HttpLimits = field(default_factory=HttpLimits)
    # Replaces the network entirely (unit tests with httpx.MockTransport); no guard applies.
    transport: httpx.BaseTransport | None = None
    # How host names become addresses for the private-address guard (tests inject one).
    resolver: Resolver = system_resolver
    _host_slots: dict[str, threading.BoundedSemaphore] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        # Two pools so a connection opened for an opted-in private host is never
        # reused by a request that must not reach it.
        self._guarded = self._make_client(GuardedBackend(guard=True, resolver=self.resolver))
        self._trusted = self._make_client(GuardedBackend(guard=False))
        from connectors.robots import RobotsCache

        self.robots = RobotsCache(self)

    def _make_client(self, backend: GuardedBackend) -> httpx.Client:
        timeout = httpx.Timeout(self.limits.read_timeout, connect=self.limits.connect_timeout)
        transport = self.transport or _transport_with_backend(backend)
        return httpx.Client(timeout=timeout, transport=transport, follow_redirects=False,
                            trust_env=False, headers={"User-Agent": self.user_agent,
                                                      "Accept-Encoding": ACCEPT_ENCODING})

    def close(self) -> None:
        self._guarded.close()
        self._trusted.close()

    def get(self, spec: SourceSpec, url: str | None = None, *, robots: bool = False,
            headers: Mapping[str, str] | None = None, conditional: bool = True,
            max_bytes: int | None = None) -> HttpResponse:
        """GET `url` (default: the source's URL), following redirects by hand.

        `robots`: refuse what robots.txt disallows for us (web pages).
        `headers`: extra request headers (API keys); dropped when a redirect leaves the origin.
        `conditional`: send the source's stored validators (only for the source's own URL).
        """
        url = url or spec.url
        if urlsplit(url).scheme == "file":
            if not spec.allow_file:
                raise FetchError(f"file: URLs are allowed only in config, not here: {url}")
            return _read_file(url, spec if conditional else None, max_bytes or self.limits.max_body_bytes)
        request_headers = dict(headers or {})
        if conditional and spec.etag:
            request_headers["If-None-Match"] = spec.etag
        if conditional and spec.last_modified:
            request_headers["If-Modified-Since"] = spec.last_modified
        with deadline_after(self.limits.deadline):
            return self._follow(spec, url, request_headers, robots=robots,
                                max_bytes=max_bytes or self.limits.max_body_bytes)

    def _follow(self, spec: SourceSpec, url: str, headers: dict[str, str], *, robots: bool,
                max_bytes: int) -> HttpResponse:
        start = url
        permanent_url: str | None = None
        still_permanent = True
        for _hop in range(self.limits.max_redirects + 1):
            if urlsplit(url).scheme not in ("http", "https"):
                raise FetchError(f"refusing to fetch a non-HTTP URL: {url}")
            if robots and not self.robots.allows(spec, url):
                raise FetchError(f"robots.txt of {urlsplit(url).netloc} disallows {url} for us; "
                                 "a source may opt out with robots: false")
            status, body, resp_headers = self._get_once(spec, url, headers, max_bytes)
            if status in REDIRECT_STATUSES and "location" in resp_headers:
                target = urljoin(url, resp_headers["location"])
                if _origin(target) != _origin(url):
                    headers = {k: v for k, v in headers.items()
                               if k in ("If-None-Match", "If-Modified-Since")}
                url = target
                still_permanent = still_permanent and status in PERMANENT_REDIRECTS
                if still_permanent:
                    permanent_url = url
                continue
            if status == 410:
                raise GoneError(f"the server says {url} is gone for good (HTTP 410)", http_status=410)
            if status in (429, 503):
                raise FetchError(f"HTTP {status} from {url}: the server asks us to slow down",
                                 http_status=status,
                                 retry_after=retry_after_seconds(resp_headers.get("retry-after")))
            if status >= 400:
                raise FetchError(f"HTTP {status} from {url}", http_status=status)
            return HttpResponse(status, body, resp_headers, url, permanent_url)
        raise FetchError(f"more than {self.limits.max_redirects} redirects starting at {start}")

    def _get_once(self, spec: SourceSpec, url: str, headers: Mapping[str, str],
                  max_bytes: int) -> tuple[int, bytes, httpx.Headers]:
        host = urlsplit(url).hostname or ""
        trusted = spec.allow_private and host == urlsplit(spec.url).hostname
        client = self._trusted if trusted else self._guarded
        with self._slot(host):
            try:
                with client.stream("GET", url, headers=dict(headers)) as response:
                    body = _read_decoded(response, max_bytes)
                    return response.status_code, body, response.headers
            except (httpx.TimeoutException, httpcore.TimeoutException) as exc:
                raise FetchError(f"no answer from {url} within the limits (total deadline "
                                 f"{self.limits.deadline:g}s): {type(exc).__name__}") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"{type(exc).__name__}: {exc or 'network error'} ({url})") from exc
            except httpx.InvalidURL as exc:  # not an HTTPError: e.g. leading-zero IPv4 ("0177.0.0.1")
                raise FetchError(f"not a valid URL: {url} ({exc})") from exc

    def _slot(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            slot = self._host_slots.get(host)
            if slot is None:
                slot = self._host_slots[host] = threading.BoundedSemaphore(self.limits.per_host)
            return slot


def _transport_with_backend(backend: GuardedBackend) -> httpx.HTTPTransport:
    """httpx's transport, connecting through our backend.

    httpx has no public knob for the network backend, so the pool it builds is
    swapped for an identical one that uses ours (tests prove the guard is live).
    """
    ssl_context = _ssl_context()
    transport = httpx.HTTPTransport(verify=ssl_context, trust_env=False)
    transport._pool = httpcore.ConnectionPool(ssl_context=ssl_context, max_connections=100,
                                              max_keepalive_connections=20, keepalive_expiry=5.0,
                                              network_backend=backend)
    return transport


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs ~0.1 s; one context serves every client and thread.
    return httpx.create_ssl_context(trust_env=False)


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii") if match else None


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip().strip('"')
    return None


class BodyTooLarge(FetchError):
    """The body is larger than the cap once decoded."""


class _Inflater:
    """zlib inflation that never produces more than it is allowed to."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._zlib = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            out = self._zlib.decompress(data, room)
        except zlib.error as exc:
            if self._wbits == zlib.MAX_WBITS and not self._started:
                # "deflate" is zlib-wrapped by the spec, raw by some servers.
                self._wbits = -zlib.MAX_WBITS
                self._zlib = zlib.decompressobj(self._wbits)
                return self.feed(data, room)
            raise FetchError(f"the body is not valid compressed data: {exc}") from exc
        self._started = True
        if len(out) >= room or self._zlib.unconsumed_tail:
            raise BodyTooLarge("")
        return out


def _read_decoded(response: httpx.Response, max_bytes: int) -> bytes:
    if response.status_code in REDIRECT_STATUSES or response.status_code in (304, 204):
        return b""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    inflater = {"gzip": _Inflater(16 + zlib.MAX_WBITS), "x-gzip": _Inflater(16 + zlib.MAX_WBITS),
                "deflate": _Inflater(zlib.MAX_WBITS)}.get(encoding)
    if inflater is None and encoding not in ("identity", ""):
        raise FetchError(f"the server used Content-Encoding {encoding!r}, which we did not ask for")
    body = bytearray()
    raw_size = 0
    try:
        for raw in response.iter_raw():
            raw_size += len(raw)
            room = max_bytes - len(body) + 1
            if inflater is None:
                if len(raw) >= room:
                    raise BodyTooLarge("")
                body += raw
            else:
                body += inflater.feed(raw, room)
            if raw_size > max_bytes:
                raise BodyTooLarge("")
    except BodyTooLarge:
        raise BodyTooLarge(f"the body of {response.url} is larger than {max_bytes} bytes once decoded; "
                           "stopped reading") from None
    return bytes(body)


def _read_file(url: str, spec: SourceSpec | None, max_bytes: int) -> HttpResponse:
    path = Path(unquote(urlsplit(url).path))
    try:
        stat = path.stat()
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror}") from exc
    if stat.st_size > max_bytes:
        raise FetchError(f"{path} is larger than {max_bytes} bytes")
    # A file's mtime plays the role of Last-Modified so unchanged files cost nothing.
    last_modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
    headers = httpx.Headers({"last-modified": last_modified})
    if spec is not None and spec.last_modified == last_modified:
        return HttpResponse(304, b"", headers, url)
    return HttpResponse(200, path.read_bytes(), headers, url)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    return _seconds_until(value, now)


def fetch_fields(response: HttpResponse, spec: SourceSpec) -> dict[str, object]:
    """The FetchResult fields every HTTP connector reports the same way: status, validators
    (kept from the last run when a 304 repeats none), the server's freshness hint and a moved URL."""
    headers = response.headers
    return dict(http_status=response.status,
                etag=headers.get("etag") or spec.etag,
                last_modified=headers.get("last-modified") or spec.last_modified,
                min_interval=min_interval_from_headers(headers),
                final_url=response.permanent_url)


def min_interval_from_headers(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """How long the server says its answer stays fresh (Cache-Control max-age, else Expires)."""
    for directive in headers.get("cache-control", "").split(","):
        name, _, arg = directive.strip().partition("=")
        if name.lower() == "max-age" and arg.strip().strip('"').isdigit():
            return float(arg.strip().strip('"'))
    return _seconds_until(headers.get("expires"), now)


def _seconds_until(http_date: str | None, now: datetime | None) -> float | None:
    if not http_date:
        return None
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())

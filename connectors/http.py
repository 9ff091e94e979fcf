"""The one polite HTTP client every connector fetches through.

Conditional GET with the validators stored verbatim, a User-Agent that names
us, a per-host concurrency cap, a total deadline per fetch and a cap on the
*decoded* body size, enforced while reading so a compressed bomb cannot
inflate past it. `file:` URLs are served from disk, but only when the source
came from config (`SourceSpec.allow_file`).
"""

from __future__ import annotations

import email.utils
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from connectors.base import FetchError, GoneError, SourceSpec

__version__ = "0.1.0"
DEFAULT_USER_AGENT = f"prospect-intel/{__version__} (+https://github.com/prospect-intel)"
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
PERMANENT_REDIRECTS = {301, 308}


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


@dataclass
class PoliteClient:
    user_agent: str = DEFAULT_USER_AGENT
    limits: HttpLimits = field(default_factory=HttpLimits)
    transport: httpx.BaseTransport | None = None
    _host_slots: dict[str, threading.BoundedSemaphore] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        timeout = httpx.Timeout(self.limits.read_timeout, connect=self.limits.connect_timeout)
        self._client = httpx.Client(timeout=timeout, transport=self.transport,
                                    follow_redirects=False,
                                    headers={"User-Agent": self.user_agent})

    def close(self) -> None:
        self._client.close()

    def get(self, spec: SourceSpec, url: str | None = None) -> HttpResponse:
        """GET `url` (default: the source's URL) conditionally, following redirects by hand."""
        url = url or spec.url
        if urlsplit(url).scheme == "file":
            if not spec.allow_file:
                raise FetchError(f"file: URLs are allowed only in config, not here: {url}")
            return _read_file(url, spec, self.limits.max_body_bytes)
        headers = {}
        if spec.etag:
            headers["If-None-Match"] = spec.etag
        if spec.last_modified:
            headers["If-Modified-Since"] = spec.last_modified
        deadline = time.monotonic() + self.limits.deadline
        permanent_url: str | None = None
        still_permanent = True
        for _hop in range(self.limits.max_redirects + 1):
            if urlsplit(url).scheme not in ("http", "https"):
                raise FetchError(f"refusing to fetch a non-HTTP URL: {url}")
            status, body, resp_headers = self._get_once(url, headers, deadline)
            if status in REDIRECT_STATUSES and "location" in resp_headers:
                url = urljoin(url, resp_headers["location"])
                still_permanent = still_permanent and status in PERMANENT_REDIRECTS
                if still_permanent:
                    permanent_url = url
                continue
            if status == 410:
                raise GoneError("the server says this feed is gone for good (HTTP 410)", http_status=410)
            if status in (429, 503):
                raise FetchError(f"HTTP {status}: server asks us to slow down", http_status=status,
                                 retry_after=retry_after_seconds(resp_headers.get("retry-after")))
            if status >= 400:
                raise FetchError(f"HTTP {status} from {url}", http_status=status)
            return HttpResponse(status, body, resp_headers, url, permanent_url)
        raise FetchError(f"more than {self.limits.max_redirects} redirects starting at {spec.url}")

    def _get_once(self, url: str, headers: dict[str, str], deadline: float) -> tuple[int, bytes, httpx.Headers]:
        with self._slot(urlsplit(url).netloc):
            try:
                with self._client.stream("GET", url, headers=headers) as response:
                    body = _read_capped(response, deadline, self.limits.max_body_bytes)
                    return response.status_code, body, response.headers
            except httpx.HTTPError as exc:
                raise FetchError(f"{type(exc).__name__}: {exc or 'network error'} ({url})") from exc

    def _slot(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            slot = self._host_slots.get(host)
            if slot is None:
                slot = self._host_slots[host] = threading.BoundedSemaphore(self.limits.per_host)
            return slot


def _read_capped(response: httpx.Response, deadline: float, max_bytes: int) -> bytes:
    if response.status_code in REDIRECT_STATUSES or response.status_code == 304:
        return b""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():  # decoded bytes: the cap holds after gunzip
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"body larger than {max_bytes} bytes once decoded; stopped reading")
        if time.monotonic() > deadline:
            raise FetchError("fetch took longer than its total deadline; stopped reading")
        chunks.append(chunk)
    return b"".join(chunks)


def _read_file(url: str, spec: SourceSpec, max_bytes: int) -> HttpResponse:
    path = Path(unquote(urlsplit(url).path))
    try:
        stat = path.stat()
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror}") from exc
    if stat.st_size > max_bytes:
        raise FetchError(f"{path} is larger than {max_bytes} bytes")
    # A file's mtime plays the role of Last-Modified so unchanged demo files cost nothing.
    last_modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
    headers = httpx.Headers({"last-modified": last_modified})
    if spec.last_modified == last_modified:
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
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())

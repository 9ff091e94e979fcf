"""robots.txt, fetched once per host and cached, parsed by protego (RFC 9309).

Only web pages are checked (feeds and APIs are published to be polled). Per
RFC 9309: a robots.txt that does not exist (4xx) allows everything; one that
cannot be fetched (5xx, network failure) disallows everything until it can.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from connectors.base import FetchError, SourceSpec

if TYPE_CHECKING:
    from connectors.http import PoliteClient

# RFC 9309 says a cached robots.txt should not be used for more than 24 hours.
CACHE_SECONDS = 24 * 3600
UNREACHABLE_CACHE_SECONDS = 3600
MAX_ROBOTS_BYTES = 512 * 1024


@dataclass(frozen=True)
class _Entry:
    rules: Protego | None  # None: everything disallowed (robots.txt unreachable)
    expires: float


class RobotsCache:
    def __init__(self, client: "PoliteClient") -> None:
        self.client = client
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        # One fetch per host at a time; others wait for its answer.
        self._host_locks: dict[str, threading.Lock] = {}

    def allows(self, spec: SourceSpec, url: str) -> bool:
        from connectors.http import PRODUCT_TOKEN

        parts = urlsplit(url)
        origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        if parts.path in ("/robots.txt",):
            return True
        entry = self._entry(spec, origin)
        if entry.rules is None:
            return False
        return entry.rules.can_fetch(url, PRODUCT_TOKEN)

    def _entry(self, spec: SourceSpec, origin: str) -> _Entry:
        with self._lock:
            host_lock = self._host_locks.setdefault(origin, threading.Lock())
        with host_lock:
            entry = self._entries.get(origin)
            if entry is None or entry.expires < time.monotonic():
                entry = self._entries[origin] = self._fetch(spec, origin)
            return entry

    def _fetch(self, spec: SourceSpec, origin: str) -> _Entry:
        # Same trust as the page itself; never the page's validators.
        robots_spec = replace(spec, etag=None, last_modified=None, allow_file=False)
        try:
            response = self.client.get(robots_spec, origin + "/robots.txt", conditional=False,
                                       max_bytes=MAX_ROBOTS_BYTES)
        except FetchError as exc:
            if exc.http_status is not None and 400 <= exc.http_status < 500 and exc.http_status != 429:
                return _Entry(Protego.parse(""), time.monotonic() + CACHE_SECONDS)
            return _Entry(None, time.monotonic() + UNREACHABLE_CACHE_SECONDS)
        return _Entry(Protego.parse(response.body.decode("utf-8", "replace")),
                      time.monotonic() + CACHE_SECONDS)

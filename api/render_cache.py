"""Rendered feed documents kept under their validators, per process.

A feed's ETag changes whenever anything its rendering shows changes (api/feeds.py
`feed_validators`), so a rendering found under the same ETag, format and request
URL is the document a fresh render would produce; a changed feed has a new ETag
and simply misses. Nothing is shared between processes or replicas: each keeps
its own, bounded by entries and bytes, least recently used out first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Hashable

DEFAULT_ENTRIES = 4096
DEFAULT_BYTES = 64 * 2**20


class RenderCache:
    def __init__(self, max_entries: int = DEFAULT_ENTRIES, max_bytes: int = DEFAULT_BYTES) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._docs: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # sync handlers run in a thread pool
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._docs.get(key)
            if body is None:
                self.misses += 1
                return None
            self._docs.move_to_end(key)
            self.hits += 1
            return body

    def put(self, key: Hashable, body: bytes) -> None:
        if self.max_entries <= 0 or len(body) > self.max_bytes // 4:
            return  # one huge page must not flush everything else
        with self._lock:
            old = self._docs.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._docs[key] = body
            self._bytes += len(body)
            while len(self._docs) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._docs.popitem(last=False)
                self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._docs)

"""Near-duplicate fingerprints: the same story from several sources gets the same cluster.

MinHash over character 5-shingles of the normalized title and summary
estimates Jaccard similarity; locality-sensitive banding turns "which earlier
stories look like this one" into one indexed lookup in `story_bands`
(models/stories.py), so any number of workers cluster against one database.

A run's items are fingerprinted together with numpy: shingles are hashed as
polynomials over their code points (no per-shingle Python call), and all
shingles of a block of items go through the 128 affine permutations as one
matrix. Per item that is tens of microseconds instead of the milliseconds a
datasketch object per item took (one SHA-1 per shingle, one array per item).
"""

from __future__ import annotations

import hashlib
import html
import re
from typing import Sequence

import numpy as np

from intel.normalize import canonical_url
from models.stories import URL_BAND, StoryPrint

NUM_PERM = 128
ROWS_PER_BAND = 4          # 32 bands: a pair at Jaccard 0.5 shares a band with p = 0.87, at 0.7 p > 0.99
SHINGLE = 5
# Fixed: signatures stored today must compare with those computed next year. (Version 2 of the
# fingerprint; stories stored with version 1, per-shingle SHA-1, still match copies by link.)
_SEED = 20240101
_WORDS = re.compile(r"[^\w]+", re.UNICODE)
_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
# Shingle hashes put through the permutations at once: a 128 x 1024 matrix of uint32 (512 KiB) stays in
# a core's cache; at 4096 columns (2 MiB) it did not, and signatures took twice as long.
_BLOCK = 1024


def _parameters() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.RandomState(_SEED)
    a = rng.randint(1, 2 ** 32, size=NUM_PERM, dtype=np.uint64).astype(np.uint32) | np.uint32(1)  # odd: bijective
    b = rng.randint(0, 2 ** 32, size=NUM_PERM, dtype=np.uint64).astype(np.uint32)
    base = np.uint64(rng.randint(2 ** 20, 2 ** 31, dtype=np.uint64) | 1)
    powers = np.array([int(base) ** k % 2 ** 64 for k in range(SHINGLE - 1, -1, -1)], dtype=np.uint64)
    return a.reshape(-1, 1), b.reshape(-1, 1), powers


_A, _B, _POWERS = _parameters()


def story_print(title: str, summary: str = "", url: str | None = None) -> StoryPrint:
    """The fingerprint of one item: MinHash signature, its LSH bands and its canonical link."""
    return story_prints([(title, summary, url)])[0]


def story_prints(items: Sequence[tuple[str, str, str | None]]) -> list[StoryPrint]:
    """Fingerprints of many (title, summary, url) items, computed together."""
    if not items:
        return []
    signatures = _signatures([_shingle_hashes(title, summary) for title, summary, _ in items])
    # Band keys are stored as signed 64-bit integers (BIGINT): the same 64 bits as the hex digits of
    # the version-2 fingerprint (migration 0005 converted stored ones), 8 bytes instead of 16 characters.
    keys = _band_hashes(signatures).view(np.int64).tolist()
    prints = []
    for (_, _, url), signature, row in zip(items, signatures, keys):
        bands = list(enumerate(row))
        link = canonical_url(url)
        if link:
            bands.append((URL_BAND, link_key(link)))
        prints.append(StoryPrint(signature=tuple(signature.tolist()), bands=tuple(bands), has_link=bool(link)))
    return prints


def link_key(link: str) -> int:
    """The canonical link's band key: the first 8 bytes of its BLAKE2b-128 digest (the digest of
    version 1, whose hex digits were stored before), as a signed 64-bit integer."""
    digest = hashlib.blake2b(link.encode(), digest_size=16).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def normalized_text(title: str, summary: str) -> str:
    """What is compared: the visible words of title and summary, lower-cased, single-spaced."""
    text = f"{title} {_TAGS.sub(' ', summary) if '<' in summary else summary}"
    if "&" in text:
        text = html.unescape(text)
    if "<" in title:
        text = _TAGS.sub(" ", text)
    return " ".join(_WORDS.sub(" ", text.lower()).split())


def _shingle_hashes(title: str, summary: str) -> np.ndarray:
    """A 32-bit hash of each distinct character 5-shingle (the whole text when it is shorter)."""
    codes = np.frombuffer(normalized_text(title, summary).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < SHINGLE:
        codes = np.concatenate([codes, np.zeros(SHINGLE - len(codes), dtype=np.uint64)])
    count = len(codes) - SHINGLE + 1
    hashes = codes[:count] * _POWERS[0]  # a polynomial over the shingle's code points, modulo 2^64
    for offset in range(1, SHINGLE):
        hashes += codes[offset:offset + count] * _POWERS[offset]
    # Repeated shingles need not be removed: a minimum does not change when a value repeats.
    return _fmix64(hashes).astype(np.uint32)


def _band_hashes(signatures: np.ndarray) -> np.ndarray:
    """A 64-bit hash (uint64) of each band (4 consecutive signature values) of each signature, with its band number."""
    rows = signatures.astype(np.uint64).reshape(len(signatures), -1, ROWS_PER_BAND)
    high = (rows[:, :, 0] << np.uint64(32)) | rows[:, :, 1]
    low = (rows[:, :, 2] << np.uint64(32)) | rows[:, :, 3]
    band = np.arange(rows.shape[1], dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return _fmix64(high ^ _fmix64(low ^ band))


def _fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer: every input bit reaches the low 32 bits kept."""
    values = values ^ (values >> np.uint64(33))
    values = values * np.uint64(0xFF51AFD7ED558CCD)
    values = values ^ (values >> np.uint64(33))
    values = values * np.uint64(0xC4CEB9FE1A85EC53)
    return values ^ (values >> np.uint64(33))


def _signatures(hashes: list[np.ndarray]) -> np.ndarray:
    """One MinHash signature per item: the minimum of each affine permutation over its shingle hashes."""
    out = np.empty((len(hashes), NUM_PERM), dtype=np.uint32)
    start = 0
    while start < len(hashes):
        stop, width = start + 1, len(hashes[start])
        while stop < len(hashes) and width + len(hashes[stop]) <= _BLOCK:
            width += len(hashes[stop])
            stop += 1
        block = hashes[start:stop]
        permuted = _A * np.concatenate(block)[None, :]  # uint32 arithmetic wraps: modulo 2^32
        permuted += _B
        offsets = np.cumsum([0] + [len(h) for h in block[:-1]])
        out[start:stop] = np.minimum.reduceat(permuted, offsets, axis=1).T
        start = stop
    return out

"""Near-duplicate fingerprints: the same story from several sources gets the same cluster.

MinHash over character 5-shingles of the normalized title and summary
estimates Jaccard similarity; locality-sensitive banding turns "which earlier
stories look like this one" into lookups of band keys: in each worker's memory for
the newest stories, in `story_bands` for older ones (models/story_index.py), so any
number of workers cluster against one database.

A run's items are fingerprinted together with numpy: the shingles of all its
texts are hashed at once, as polynomials over their code points (no call per
shingle, nor per item), and all shingles of a block of items go through the 128
affine permutations as one matrix. Per item that is tens of microseconds instead
of the milliseconds a datasketch object per item took (one SHA-1 per shingle, one
array per item).
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
    signatures = _signatures(*_shingle_hashes([normalized_text(title, summary) for title, summary, _ in items]))
    # Band keys are stored as signed 64-bit integers (BIGINT): the same 64 bits as the hex digits of
    # the version-2 fingerprint (migration 0005 converted stored ones), 8 bytes instead of 16 characters.
    keys = _band_hashes(signatures).view(np.int64).tolist()
    prints = []
    for (_, _, url), signature, row in zip(items, signatures.tolist(), keys):
        link = canonical_url(url)
        bands = (*enumerate(row), (URL_BAND, link_key(link))) if link else tuple(enumerate(row))
        prints.append(StoryPrint(signature=tuple(signature), bands=bands, has_link=bool(link)))
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
    # Each run of non-word characters (whitespace among them) is one space: only the ends to trim.
    return _WORDS.sub(" ", text.lower()).strip(" ")


def _shingle_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A 32-bit hash of each character 5-shingle of each text (the whole text when it is shorter),
    the texts' end to end, and how many each text has.

    All texts go through numpy at once: a handful of array operations per run, not per item.
    """
    # A short text is padded with code point 0 (never in a normalized text) to one shingle.
    texts = [text if len(text) >= SHINGLE else text.ljust(SHINGLE, "\0") for text in texts]
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    count = len(codes) - SHINGLE + 1
    hashes = codes[:count] * _POWERS[0]  # a polynomial over the shingle's code points, modulo 2^64
    for offset in range(1, SHINGLE):
        hashes += codes[offset:offset + count] * _POWERS[offset]
    # Only shingles within one text: text i's start in `codes`, repeated for each of its shingles,
    # plus the shingle's position in the text.
    counts = lengths - (SHINGLE - 1)
    firsts = np.cumsum(counts) - counts
    within = np.repeat(np.cumsum(lengths) - lengths - firsts, counts) + np.arange(int(counts.sum()))
    # Repeated shingles need not be removed: a minimum does not change when a value repeats.
    return _fmix64(hashes[within]).astype(np.uint32), counts


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


def _signatures(hashes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """One MinHash signature per text: the minimum of each affine permutation over its shingle hashes
    (`counts[i]` of them for text i, end to end in `hashes`)."""
    out = np.empty((len(counts), NUM_PERM), dtype=np.uint32)
    ends = np.cumsum(counts)
    starts = ends - counts
    first = 0
    while first < len(counts):
        # the texts from `first` whose shingles fit in one block (one text at least)
        stop = max(first + 1, int(np.searchsorted(ends, starts[first] + _BLOCK, side="right")))
        permuted = _A * hashes[starts[first]:ends[stop - 1]][None, :]  # uint32 arithmetic wraps: modulo 2^32
        permuted += _B
        out[first:stop] = np.minimum.reduceat(permuted, starts[first:stop] - starts[first], axis=1).T
        first = stop
    return out

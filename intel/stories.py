"""Near-duplicate fingerprints: the same story from several sources gets the same cluster.

MinHash (datasketch) over character 5-shingles of the normalized title and
summary estimates Jaccard similarity; locality-sensitive banding turns "which
earlier stories look like this one" into one indexed lookup in `story_bands`
(models/stories.py), so any number of workers cluster against one database.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
from datasketch import MinHash

from intel.normalize import canonical_url
from intel.text import plain_text
from models.stories import URL_BAND, StoryPrint

NUM_PERM = 128
ROWS_PER_BAND = 4          # 32 bands: a pair at Jaccard 0.5 shares a band with p = 0.87, at 0.7 p > 0.99
SHINGLE = 5
_SEED = 20240101           # fixed: signatures stored today must compare with those computed next year
_WORDS = re.compile(r"[^\w]+", re.UNICODE)


def story_print(title: str, summary: str = "", url: str | None = None) -> StoryPrint:
    """The fingerprint of one item: MinHash signature, its LSH bands and its canonical link."""
    text = " ".join(_WORDS.sub(" ", f"{plain_text(title)} {plain_text(summary)}".lower()).split())
    shingles = {text[i:i + SHINGLE] for i in range(max(1, len(text) - SHINGLE + 1))} if text else {""}
    minhash = MinHash(num_perm=NUM_PERM, seed=_SEED)
    minhash.update_batch([s.encode("utf-8") for s in shingles])
    signature = tuple(int(v) for v in minhash.hashvalues)
    bands = []
    for band in range(NUM_PERM // ROWS_PER_BAND):
        rows = np.asarray(signature[band * ROWS_PER_BAND:(band + 1) * ROWS_PER_BAND], dtype=np.uint64)
        bands.append((band, hashlib.blake2b(rows.tobytes(), digest_size=16).hexdigest()))
    link = canonical_url(url)
    if link:
        bands.append((URL_BAND, hashlib.blake2b(link.encode(), digest_size=16).hexdigest()))
    return StoryPrint(signature=signature, bands=tuple(bands), has_link=bool(link))

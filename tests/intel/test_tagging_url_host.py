"""An item's link names a prospect by its host: the quick reading of plain URLs must say what urlsplit says."""

from __future__ import annotations

import random
from urllib.parse import urlsplit

from intel.tagging import url_host


def _reference(text: str) -> str | None:
    try:
        return (urlsplit(text if "//" in text else "//" + text).hostname or "").lower()
    except ValueError:
        return None


def test_the_host_of_a_link_is_what_urlsplit_reads_for_plain_and_odd_urls():
    rnd = random.Random(5)
    pieces = ["https://", "http://", "HTTP://", "//", "", "ftp+x://", "1http://", "www.", "Acme", "acme", ".com",
              ".co.uk", ":8080", ":", ":x", "@", "user:pw@", "/news", "?q=1", "#top", "[", "]", "[::1]", " ",
              "\t", "\n", "é", "-", ".", "/", "%", "\x00"]
    texts = ["https://www.acme.com/news/1", "acme.com", "//Acme.COM:443/x?y#z", "[acme.com", "http://a@b.com/",
             "https://news0.example.com/0/1", " https://acme.com", "mailto:x@acme.com", "acme.com//x"]
    texts += ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 7))) for _ in range(20_000)]
    for text in texts:
        assert url_host(text) == _reference(text), repr(text)

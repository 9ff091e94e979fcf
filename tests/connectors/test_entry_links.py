"""Which link an entry is stored with: http(s) links in any spelling, nothing else."""

from __future__ import annotations

import pytest

from connectors.base import RawItem
from intel.normalize import with_storage_keys


@pytest.mark.parametrize("link, stored", [
    ("https://a.example/1", "https://a.example/1"),
    ("  HTTPS://A.example/1 ", "HTTPS://A.example/1"),          # spaces around go, the spelling stays
    ("Http://a.example/x?y=1#z", "Http://a.example/x?y=1#z"),
    ("http://[2001:db8::1]/x", "http://[2001:db8::1]/x"),        # an IPv6 host
    ("http://bücher.example/x", "http://bücher.example/x"),      # a host beyond ASCII
    ("\x01http://a.example/", "http://a.example/"),              # a control character before it is dropped
    ("https://a.example/\x7fx", "https://a.example/x"),
    ("javascript:alert(1)", None),
    ("JAVASCRIPT:alert(1)", None),
    ("data:text/html,x", None),
    ("mailto:sales@a.example", None),
    ("//a.example/no-scheme", None),
    ("", None),
])
def test_an_entry_keeps_only_a_web_link(link, stored):
    [(_, item)] = with_storage_keys([RawItem(title="Siemens opens a plant", url=link, guid="g1")])
    assert item.url == stored

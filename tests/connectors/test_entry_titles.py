"""An entry's title is stored as plain, printable text, whatever the source sent."""

from __future__ import annotations

import pytest

from connectors.base import RawItem
from intel.normalize import with_storage_keys


@pytest.mark.parametrize("title, stored", [
    ("<b>Siemens</b> wins \ud800a contract", "Siemens wins a contract"),   # markup and an unpaired surrogate
    ("Siemens &amp; Bosch\udfff", "Siemens & Bosch"),
    ("Siemens\ud800 wins", "Siemens wins"),
    ("<script>alert(1)</script>Siemens", "Siemens"),
    ("Siemens\x00 AG", "Siemens AG"),
    ("<b>\ud800</b>", "(untitled)"),
])
def test_a_title_is_stored_as_plain_printable_text(title, stored):
    [(_, item)] = with_storage_keys([RawItem(title=title, url="https://a.example/1", guid="g1")])
    assert item.title == stored

"""OPML 2.0 subscription lists: a salesperson imports one file and is subscribed to everything."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence
from xml.etree import ElementTree as ET

OPML_MEDIA_TYPE = "text/x-opml; charset=utf-8"


@dataclass(frozen=True)
class OpmlFeed:
    title: str
    xml_url: str


def render_opml(title: str, *, owner: str, created: datetime,
                groups: Sequence[tuple[str, Sequence[OpmlFeed]]]) -> bytes:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = email.utils.format_datetime(created.astimezone(timezone.utc),
                                                                         usegmt=True)
    if "@" in owner:
        ET.SubElement(head, "ownerEmail").text = owner
    ET.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = ET.SubElement(root, "body")
    for name, feeds in groups:
        if not feeds:
            continue
        folder = ET.SubElement(body, "outline", text=name, title=name)
        for feed in feeds:
            # type="rss" is OPML's word for any subscribable feed, Atom included.
            ET.SubElement(folder, "outline", type="rss", text=feed.title, title=feed.title,
                          xmlUrl=feed.xml_url)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"

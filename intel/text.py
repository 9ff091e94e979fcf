"""Plain text from the HTML that feeds put in titles and summaries."""

from __future__ import annotations

import html
import re

import lxml.html
from lxml.etree import ParserError

_SPACES = re.compile(r"\s+")
# Invisible control characters go; vertical tab and form feed are spaces. (lxml also refuses to
# move a text holding one, as dropping a <script> before it does.)
_CONTROLS = {**{c: None for c in [*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F]}, 0x0B: " ", 0x0C: " "}
# Whether there is one to translate: a search costs a fraction of translating text that has none.
_ANY_CONTROL = re.compile("[%s]" % "".join(re.escape(chr(c)) for c in _CONTROLS))
# Elements that end a line or a box: words on either side of one are separate words
# ("…a plant</p><p>Acme…" is "a plant Acme", not "a plantAcme").
_BLOCKS = ("p br div li ul ol dl dt dd h1 h2 h3 h4 h5 h6 blockquote pre table tr td th thead tbody tfoot "
           "caption hr section article header footer aside nav figure figcaption address main").split()
_INLINE = "b i em strong a span u s sub sup small big tt abbr cite q kbd var code".split()
# Text and attribute-less tags only: the text is then the markup with its tags cut out (a space for
# a block), read without building a tree (tests/intel/test_text.py holds both ways equal on generated
# markup). Entities, comments and tags with attributes (<script>, <a href>) go through lxml; an "&"
# before a space or a digit ("1&1", "Procter & Gamble") starts no entity and is text to lxml too.
# Possessive: one regex step per run of text or tag.
_SIMPLE_MARKUP = re.compile(r"(?:[^<>&\r]++|&(?=[ 0-9])|</?(?:%s)>)*+" % "|".join(_BLOCKS + _INLINE))
_BLOCK_TAG = re.compile(r"</?(?:%s)>" % "|".join(_BLOCKS))
_ANY_BLOCK_TAG = re.compile(r"</?(?:%s)\b[^>]*>" % "|".join(_BLOCKS), re.IGNORECASE)
_INLINE_TAG = re.compile(r"</?(?:%s)>" % "|".join(_INLINE))


def plain_text(markup: str | None) -> str:
    """Visible text of an HTML fragment, whitespace collapsed; plain text passes through."""
    if not markup:
        return ""
    # Every control character is unprintable: most text is printable, and saying so costs a
    # fraction of the search.
    if not markup.isprintable() and _ANY_CONTROL.search(markup):
        markup = markup.translate(_CONTROLS)
    if "<" not in markup:
        # str.split() splits on exactly the characters \s matches, at a fraction of a regex's cost.
        return " ".join(html.unescape(markup).split())
    if _SIMPLE_MARKUP.fullmatch(markup):
        return " ".join(_INLINE_TAG.sub("", _BLOCK_TAG.sub(" ", markup)).split())
    return _text_of_fragment(markup)


def _text_of_fragment(markup: str) -> str:
    """What lxml reads as the fragment's visible text: scripts and styles dropped, blocks apart."""
    # A space beside every block tag, stray closing tags too: words on either side stay apart.
    markup = _ANY_BLOCK_TAG.sub(r" \g<0> ", markup)
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (ParserError, ValueError):
        return _SPACES.sub(" ", html.unescape(re.sub(r"<[^>]*>", " ", markup))).strip()
    for bad in root.xpath(".//script|.//style"):
        bad.drop_tree()
    return _SPACES.sub(" ", root.text_content()).strip()

"""Plain text of feed markup: the quick way for simple markup reads exactly what lxml reads."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from intel.text import _CONTROLS, _text_of_fragment, plain_text

TAGS = ["p", "br", "b", "a", "li", "h1", "div", "table", "tr", "td", "span", "blockquote", "pre", "script"]
PIECES = st.sampled_from(["word", "Acme", " ", "  ", "\n", "\t", "\r", "\x0b", "\x0c", "\x01", "\u00a0", "\u2028",
                          "é", ".", "&amp;", "&", ">", "x y", "<!-- c -->"])
TAG = st.builds(lambda name, closing: f"<{'/' if closing else ''}{name}>", st.sampled_from(TAGS), st.booleans())
MARKUP = st.lists(st.one_of(PIECES, TAG), min_size=1, max_size=12).map("".join)


@settings(max_examples=3000, deadline=None)
@given(MARKUP)
def test_plain_text_reads_any_markup_as_lxml_does(markup):
    assert plain_text(markup) == _text_of_fragment(markup.translate(_CONTROLS))


def test_plain_text_of_a_summary():
    assert plain_text("<p>Acme  opens\na plant</p><p>in <b>Ohio</b>.</p>") == "Acme opens a plant in Ohio."
    assert plain_text("<p>Acme &amp; Co</p><script>track()</script>") == "Acme & Co"
    assert plain_text("Acme &amp; Co") == "Acme & Co"
    assert plain_text("<p>Acme</p><p>Inc.</p>") == "Acme Inc."  # paragraphs never glue words together
    assert plain_text("<div class=lead>Acme<br/>Inc.</div>") == "Acme Inc."
    assert plain_text("<b>Ac</b>me <i>x</i>") == "Acme x"


def test_control_characters_never_break_reading():
    # lxml refuses to move such a text when the <script> before it is dropped
    assert plain_text("<p>Acme</p><script>x()</script>\x01opens\x0cplant") == "Acme opens plant"

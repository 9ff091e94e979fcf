"""Shortcuts of tagging that must not change a result: markup read without lxml, link owners
remembered between items, signal rules rejected before they are tried."""

from __future__ import annotations

import spacy
from hypothesis import given, settings, strategies as st

from intel.settings import ProspectRecord
from intel.tagging import ProspectTagger, TagInput
from intel.text import _CONTROLS, _text_of_fragment, plain_text

AMPERSANDS = st.sampled_from(["1&1", "& ", "&9", "5&", "AT&T", "&amp;", "&#38;", "&", " ", "word", "Acme",
                              "<p>", "</p>", "<b>", "</b>", "<br>", ".", "\n"])


@settings(max_examples=2000, deadline=None)
@given(st.lists(AMPERSANDS, min_size=1, max_size=12).map("".join))
def test_markup_with_a_bare_ampersand_reads_as_lxml_reads_it(markup):
    assert plain_text(markup) == _text_of_fragment(markup.translate(_CONTROLS))


def test_procter_and_gamble_and_one_and_one_keep_their_ampersand():
    assert plain_text("<p>1&1 and Procter & Gamble said</p>") == "1&1 and Procter & Gamble said"


def test_a_link_to_a_prospects_domain_counts_once_the_prospect_has_the_domain():
    item = TagInput("Quarterly update", "Results are out.", url="https://news.acme-robotics.com/q3")
    plain = ProspectRecord(id="acme", name="Acme Robotics")
    tagger = ProspectTagger([plain], spacy.blank("en"))
    assert tagger.tag(item).mentions == ()
    tagger.update([plain.model_copy(update={"domains": ["acme-robotics.com"]})])
    assert [m.prospect_id for m in tagger.tag(item).mentions] == ["acme"]
    tagger.update([plain])
    assert tagger.tag(item).mentions == ()


def test_rules_with_optional_words_and_gaps_find_what_spacys_matcher_finds():
    # Forms filed under an optional word or the required word after it, and forms rejected when the
    # word after a gap is out of reach, at the edges of that reach and of the doc.
    from spacy.matcher import Matcher

    from intel.signal_taxonomy import Rule
    from intel.signals import AnchoredRules, compile_pattern

    nlp = spacy.blank("en")
    rules = {"down#0": Rule("ceo to? step|steps down"), "site#0": Rule("brand-new ~ ~ plant|office"),
             "site#1": Rule("plant|office ~ ~ opened?"), "fund#0": Rule("raises ~ ~ #MONEY funding?"),
             "back#0": Rule("series|seed ~ ~ zorblat")}  # anchored on the made-up word: a gap before it
    fast = AnchoredRules(nlp, rules)
    reference = Matcher(nlp.vocab)
    split = lambda word: [t.lower_ for t in nlp.tokenizer(word)]  # noqa: E731
    for key, rule in rules.items():
        reference.add(key, compile_pattern(rule.pattern, split))
    texts = ["The CEO to step down", "The CEO steps down", "CEO to", "CEO step", "ceo down to step",
             "a brand-new plant", "brand-new big plant", "brand-new big red plant", "brand-new big red old plant",
             "plant", "brand-new", "the plant was opened", "office opened", "office a b c opened",
             "Acme raises $40 million", "raises in total $ 5 m funding", "raises a b c $5",
             "series a b zorblat", "seed round zorblat", "series zorblat", "series a b c zorblat", "zorblat"]
    found = 0
    for doc in nlp.tokenizer.pipe(texts):
        expected = {(nlp.vocab.strings[m], s, e) for m, s, e in reference(doc)}
        assert set(fast(doc)[0]) == expected, doc.text
        found += len(expected)
    assert found >= 12

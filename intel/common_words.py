"""Is a company name also an everyday English word (Apple, Target, Shell, Gap)?

The answer comes from two tables that ship in the `spacy-lookups-data`
package: WordNet's lemma index (is it a dictionary word at all?) and spaCy's
case-sensitive English unigram log-probabilities (do people actually write it
in lower case, as a word, about as often as capitalized, as a name?).
WordNet alone is too eager — it lists Toyota, Airbus and Siemens — and the
frequencies alone cannot tell a brand written lazily in lower case from a
word, so a name needs both, or a lower-case form so frequent that it is a
word whatever WordNet says ("meta").
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from importlib import resources

# log-probability floors, calibrated on well-known names (see tests/intel/test_common_words.py):
# "oracle" (-13.5) is a word people write; "tesla" (-14.0) and "cisco" (-14.9) are not.
DICTIONARY_WORD_FLOOR = -13.6
# A dictionary word counts only when its lower-case form is at most this much rarer
# than the capitalized one ("ford": -13.4 vs -11.5 is mostly the carmaker).
LOWER_VS_CAPITALIZED = 1.5
# So frequent in lower case that it is a word even outside WordNet ("meta": -10.8).
FREQUENT_WORD_FLOOR = -11.0


# Rarer words are kept out of memory (the full table is a million entries, ~140 MiB in a dict): they
# are never common words, and for picking a rule's rarest word e^-16 and e^-20 are both nothing.
KEPT_LOG_PROBABILITY_FLOOR = -16.0


@lru_cache(maxsize=1)
def _tables() -> tuple[frozenset[str], dict[str, float]]:
    data = resources.files("spacy_lookups_data") / "data"
    probs = _frequent_words(data / "en_lexeme_prob.json.gz")
    with (data / "en_lemma_index.json.gz").open("rb") as raw, gzip.open(raw) as fh:
        index = json.load(fh)
    words = frozenset(w for lemmas in index.values() for w in lemmas
                      if w.isalpha() and probs.get(w, -30.0) >= DICTIONARY_WORD_FLOOR)
    return words, probs


def _frequent_words(path) -> dict[str, float]:
    """The table's words down to KEPT_LOG_PROBABILITY_FLOOR, read a line at a time.

    The file is written most frequent first, one `"word":logprob,` pair per line, so reading
    stops at the first rarer word instead of building the whole million-entry dict.
    """
    probs: dict[str, float] = {}
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        for line in fh:
            line = line.strip().rstrip(",")
            if line in ("{", "}", ""):
                continue
            ((word, value),) = json.loads("{" + line + "}").items()
            if value < KEPT_LOG_PROBABILITY_FLOOR:
                break
            probs[word] = value
    return probs


@lru_cache(maxsize=65536)
def is_common_word(word: str) -> bool:
    """True when `word` (one token, any case) is an everyday English word."""
    if not word.isalpha():
        return False
    lower = word.lower()
    words, probs = _tables()
    lower_p = probs.get(lower)
    if lower_p is None:
        return False
    capitalized_p = probs.get(lower.capitalize(), -30.0)
    if lower in words and lower_p >= DICTIONARY_WORD_FLOOR and lower_p >= capitalized_p - LOWER_VS_CAPITALIZED:
        return True
    return lower_p >= FREQUENT_WORD_FLOOR and lower_p >= capitalized_p


def log_probability(word: str) -> float:
    """How often `word` (exactly as cased) appears in English text, as a natural log; -20 when unseen."""
    return _tables()[1].get(word, -20.0)

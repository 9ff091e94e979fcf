"""Phrases (prospect names, tickers, keywords ...) found in docs by one PhraseMatcher pass.

A phrase is keyed by the string ids of its tokens' lower-case forms (or of the
tokens as written, for an ORTH index), exactly the values spaCy stores for
the attribute, hashes or its own symbol ids ("agent" is one), so the
PhraseMatcher takes the keys as they are: no `Doc` per phrase, and nothing of
100,000 prospect names added to the pipeline's vocabulary or its tokenizer
cache (which then keeps caching the words of the news instead). Phrases are
split by a private copy of the pipeline's tokenizer, one space-separated
chunk at a time as the tokenizer itself works: a chunk of letters that is no
special case is one token without asking, the rest are tokenized 5,000 to a
doc.

What a phrase means is kept beside the matcher: any number of meanings per
phrase, added and removed one by one. The matcher itself cannot forget one
phrase among many, so a phrase that means nothing any more stays in it and
matches for nothing, until stale phrases outnumber live ones and it is rebuilt.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, NamedTuple

from spacy.attrs import LOWER
from spacy.lang import lex_attrs
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.strings import get_string_id
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.vocab import Vocab


class Phrase(NamedTuple):
    """A phrase as the tokenizer splits it: its key (lower-case token hashes) and exact token hashes."""

    key: tuple[int, ...]
    orths: tuple[int, ...]


class PhraseSplitter:
    """Token hashes of phrases, as `nlp.tokenizer` would make them, without touching its vocab or cache."""

    def __init__(self, nlp: Language) -> None:
        shared = nlp.tokenizer
        self._lower = nlp.vocab.lex_attr_getters.get(LOWER, str.lower)
        if self._lower is lex_attrs.lower:  # spaCy's default is str.lower behind a Python call
            self._lower = str.lower
        if isinstance(shared, Tokenizer):
            self._special = frozenset(shared.rules or ())
            # Same rules, a throwaway vocab without lexical attributes: lexemes cost nothing to make.
            self._tokenizer = Tokenizer(Vocab(), rules=shared.rules, prefix_search=shared.prefix_search,
                                        suffix_search=shared.suffix_search, infix_finditer=shared.infix_finditer,
                                        token_match=shared.token_match, url_match=shared.url_match,
                                        faster_heuristics=shared.faster_heuristics)
        else:  # a custom tokenizer: nothing to assume about it
            self._special = None
            self._tokenizer = shared
        self._chunks: dict[str, tuple[str, ...]] = {}
        self._ids: dict[str, int] = {}  # word -> its string id, for words shared by many names

    def split(self, texts: Iterable[str]) -> dict[str, Phrase]:
        texts = list(dict.fromkeys(texts))
        chunked = {t: t.split(" ") for t in texts if self._chunkable(t)}
        whole = [t for t in texts if t not in chunked]
        known = self._chunks
        asked = []
        for chunks in chunked.values():
            for chunk in chunks:
                if chunk not in known:
                    if self._one_token(chunk):
                        known[chunk] = (chunk,)
                    else:
                        known[chunk] = ()
                        asked.append(chunk)
        for start in range(0, len(asked), 5000):
            known.update(self._split_chunks(asked[start:start + 5000]))
        words: dict[str, tuple[str, ...]] = {}
        for text, chunks in chunked.items():
            words[text] = known[chunks[0]] if len(chunks) == 1 else tuple(w for c in chunks for w in known[c])
        for text, doc in zip(whole, self._tokenizer.pipe(whole, batch_size=2000)):
            words[text] = tuple(t.text for t in doc)
        ids = self._ids
        lower = self._lower
        phrases = {}
        for text, ws in words.items():
            if ws:
                orths = tuple(ids[w] if w in ids else ids.setdefault(w, get_string_id(w)) for w in ws)
                lowers = tuple(ids[lw] if (lw := lower(w)) in ids else ids.setdefault(lw, get_string_id(lw))
                               for w in ws)
                phrases[text] = Phrase(lowers, orths)
        return phrases

    def _split_chunks(self, chunks: list[str]) -> dict[str, tuple[str, ...]]:
        """Tokens of each chunk, from one doc of them all: a space-separated chunk is tokenized on its
        own anyway, and one doc of 5,000 chunks costs far less than 5,000 docs."""
        doc = self._tokenizer(" ".join(chunks))
        ends, at = [], 0
        for chunk in chunks:
            at += len(chunk)
            ends.append(at)
            at += 1
        tokens: list[list[str]] = [[] for _ in chunks]
        n = 0
        for token in doc:
            while token.idx >= ends[n]:
                n += 1
            tokens[n].append(token.text)
        return {chunk: tuple(words) for chunk, words in zip(chunks, tokens)}

    def _chunkable(self, text: str) -> bool:
        # The tokenizer splits on single spaces first; other whitespace becomes tokens of its own.
        return self._special is not None and bool(text) and text.isprintable() and "  " not in text \
            and not text.startswith(" ") and not text.endswith(" ")

    def _one_token(self, chunk: str) -> bool:
        return chunk.isalpha() and chunk not in self._special


class PhraseIndex:
    """Which known phrases occur in a doc, and what each one means."""

    REBUILD_WHEN_STALE = 0.5  # share of the matcher's phrases that mean nothing any more

    def __init__(self, nlp: Language, attr: str = "LOWER") -> None:
        self._vocab = nlp.vocab
        self._attr = attr  # LOWER: keys are lower-case token ids; ORTH: the tokens exactly as written
        self.meanings: dict[tuple[int, ...], list[object]] = defaultdict(list)
        self._matched: set[tuple[int, ...]] = set()  # keys in the matcher, live or stale
        self._pending: list[tuple[int, ...]] = []
        self._matcher = PhraseMatcher(nlp.vocab, attr=attr)

    def add(self, key: tuple[int, ...], meaning: object) -> None:
        self.meanings[key].append(meaning)
        if key not in self._matched:
            self._matched.add(key)
            self._pending.append(key)

    def remove(self, key: tuple[int, ...], meaning: object) -> None:
        found = self.meanings.get(key)
        if found and meaning in found:
            found.remove(meaning)
            if not found:
                del self.meanings[key]

    def commit(self) -> None:
        """Make added phrases matchable (one batch into the matcher, or a rebuild when mostly stale)."""
        if len(self._matched) > 64 and len(self.meanings) < len(self._matched) * (1 - self.REBUILD_WHEN_STALE):
            self._matcher = PhraseMatcher(self._vocab, attr=self._attr)
            self._matched = set(self.meanings)
            self._pending = list(self.meanings)
        for start in range(0, len(self._pending), 50_000):
            self._matcher.add("phrase", self._pending[start:start + 50_000])
        self._pending = []

    def __len__(self) -> int:
        return len(self.meanings)

    def find(self, doc: Doc, ids: list[int] | None = None) -> list[tuple[int, int, list[object]]]:
        """(start, end, meanings) of every known phrase in the doc, by position, shorter first.

        `ids`: the doc's values of the index's attribute, one per token (`doc.to_array(attr).tolist()`),
        when the caller has them: a key is then a slice of a list, not a Token made per word.
        """
        matches = self._matcher(doc)
        if not matches:
            return []
        meanings = self.meanings
        found = []
        if ids is not None:
            for _, start, end in matches:
                found_here = meanings.get((ids[start],) if end - start == 1 else tuple(ids[start:end]))
                if found_here:
                    found.append((start, end, found_here))
            return found
        exact = self._attr == "ORTH"
        seen: dict[int, int] = {}
        for _, start, end in matches:
            for i in range(start, end):
                if i not in seen:
                    seen[i] = doc[i].orth if exact else doc[i].lower
            found_here = meanings.get(tuple(seen[i] for i in range(start, end)))
            if found_here:
                found.append((start, end, found_here))
        return found


def span_text(doc: Doc, start: int, end: int) -> str:
    """doc[start:end].text, cut from the string the tagger keeps on the doc (a Span costs more to make)."""
    text = doc.user_data.get("text")
    if text is None or end <= start:
        return doc[start:end].text
    last = doc[end - 1]
    return text[doc[start].idx:last.idx + len(last)]

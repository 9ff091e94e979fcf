"""Sales trigger events in news: what happened, to whom, and which sales stages it helps.

Each signal type is a set of spaCy Matcher patterns written in a small
pattern language (below) plus keywords that count as weaker evidence. The
built-in taxonomy is general business-news phrasing; YAML under `signals:`
adds patterns, keywords or whole new types, changes the stages a type helps,
or switches a type off.

Pattern language, one token per space-separated word:
    acquire|acquires|acquired   the token, lower-cased, is one of these
    word?                       optional token
    ~                           any one token, optional (~ ~ for up to two)
    #MONEY                      an amount: "$ 40 million", "€1.2bn", "£300 m"
    #NUM                        a number-like token
    #CAP                        a capitalized token (a name)
A pattern may carry roles for the prospect mentioned right before and right
after the words ("X acquires Y": acquirer, target).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from itertools import chain
from typing import Callable, Iterable, NamedTuple, Sequence

from spacy.attrs import LOWER
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.strings import get_string_id
from spacy.tokens import Doc

from intel.common_words import log_probability
from intel.phrase_index import PhraseSplitter, span_text
from intel.settings import STAGES, SignalsConfig, SignalTypeConfig
from intel.signal_taxonomy import DEFAULT_TAXONOMY, Rule, SignalType
from models.values import Signal

FIELD_WEIGHT = {"title": 1.0, "lead": 0.95, "summary": 0.85, "body": 0.7}
KEYWORD_WEIGHT = 0.3
MAX_SCORE = 0.99
# How far (in tokens) a prospect mention may sit from the trigger words to take a role.
ROLE_WINDOW = 12
# A rule form is tried only in docs that have the rare words it needs (as a unigram probability
# below this: "million", "deal", "by" are; "the", "to", "of" are everywhere and rule nothing out),
# at most this many of them, rarest first.
RARE_MASS = math.exp(-5.5)
NEEDED_CHECKED = 2


class MentionSpan(NamedTuple):
    """Where a prospect was found in the tagged doc (token offsets)."""

    prospect_id: str
    start: int
    end: int
    where: str


class SignalDetector:
    """Finds the taxonomy's trigger events in tagged docs and ties them to prospects."""

    def __init__(self, nlp: Language, config: SignalsConfig) -> None:
        self.min_score = config.min_score
        self.types = {t.name: t for t in build_taxonomy(config)}
        self._rules: dict[str, tuple[str, Rule, float]] = {}
        keywords: dict[str, list[str]] = {}
        for signal_type in self.types.values():
            for n, rule in enumerate(signal_type.rules):
                self._rules[f"{signal_type.name}#{n}"] = (signal_type.name, rule, rule.strength)
            keywords[signal_type.name] = list(dict.fromkeys(k.lower() for k in signal_type.keywords))
        self.matcher = AnchoredRules(nlp, {key: rule for key, (_, rule, _) in self._rules.items()}, keywords)

    def stages(self, signal_type: str) -> tuple[str, ...]:
        known = self.types.get(signal_type)
        return known.stages if known else ()

    def phrases(self) -> list[tuple[tuple[int, ...], PhraseMeaning]]:
        """The phrases the rules and keywords look for, for a caller's own phrase pass (see `detect`)."""
        return self.matcher.phrases()

    def detect(self, doc: Doc, fields: Sequence[tuple[str, int, int]],
               mentions: Sequence[MentionSpan],
               found: list[tuple[PhraseMeaning, int, int]] | None = None,
               lowers: list[int] | None = None) -> list[Signal]:
        """Signals in the doc; `found` is where `phrases()` occur in it, when the caller's own phrase
        pass found them (in the matcher's order: by start, then end), else this one looks. `lowers`:
        the doc's lower-case token ids, when the caller has read them."""
        rule_hits, keyword_hits = self.matcher(doc) if found is None else self.matcher.match(doc, found, lowers)
        if not rule_hits and not keyword_hits:
            return []
        hits: dict[str, list[tuple[float, str, Rule | None, int, int]]] = {}
        places: dict[int, str] = {}
        weighted = chain(((*self._rules[key], start, end) for key, start, end in rule_hits),
                         ((type_name, None, KEYWORD_WEIGHT, start, end) for type_name, start, end in keyword_hits))
        for type_name, rule, strength, start, end in weighted:
            where = places.get(start)
            if where is None:
                where = places[start] = _field_of(doc, start, fields)
            hit = (strength * FIELD_WEIGHT[where], where, rule, start, end)
            if type_name in hits:
                hits[type_name].append(hit)
            else:
                hits[type_name] = [hit]
        signals = []
        for type_name, found in hits.items():
            score, chosen = _combine(found)
            if score < self.min_score:
                continue
            evidence = tuple([f"{where}: {kind} {span_text(doc, s, e)!r}" for (s, e), (_, where, kind) in chosen[:5]])
            stages = self.types[type_name].stages
            for prospect_id, role in _participants(found, mentions):
                signals.append(Signal(type_name, score, evidence, prospect_id, role, stages))
        if len(signals) > 1:
            signals.sort(key=_signal_order)
        return signals


def _signal_order(signal: Signal) -> tuple[float, str, str]:
    return -signal.score, signal.type, signal.prospect_id or ""


class PhraseMeaning(NamedTuple):
    """What one phrase of the signal phrase pass stands for."""

    rules: list[str]                 # rules that are exactly this phrase (their keys)
    keywords: list[str]              # signal types it is a keyword of
    anchor: _AnchorGroup | None      # rule forms it anchors


class AnchoredRules:
    """Rules tried only where their rarest required word occurs, which one PhraseMatcher pass finds.

    A spaCy Matcher tests every pattern at every token; with a taxonomy of a
    hundred-odd patterns full of optional words that costs far more than
    reading the text. Any match must contain the rule's anchor word, so the
    rule is tried outward from each place the anchor occurs: backwards over
    the words before it for where a match can start, forwards for where it
    can end. Every start with every end is a match, the same set spaCy's
    Matcher finds (tests/intel/test_signals.py compares them). Rules of plain
    words are phrases of that same pass, as are the types' keywords.

    Most tries fail at the word right after (or before) the anchor, so each
    anchor word's rule forms are filed under the words they need there: a
    found anchor looks up the neighbouring word and tries only the forms that
    can match, instead of testing every form of every rule the word anchors.
    """

    def __init__(self, nlp: Language, rules: dict[str, Rule], keywords: dict[str, list[str]] | None = None) -> None:
        split = _splitter(nlp)
        splitter = PhraseSplitter(nlp)
        self._strings = nlp.vocab.strings
        by_anchor: dict[str, list[tuple[str, list[_Variant]]]] = defaultdict(list)
        self.everywhere: dict[str, Matcher] = {}  # rules without a required word (YAML may write them)
        wanted: dict[str, list[tuple[str, str]]] = defaultdict(list)  # phrase -> (what, value)
        for key, rule in rules.items():
            phrases = _as_phrases(rule.pattern)
            if phrases:  # only plain words: the phrase pass finds them
                for phrase in phrases:
                    wanted[phrase].append(("rule", key))
                continue
            anchor = _anchor(rule.pattern)
            if anchor is None:
                matcher = Matcher(nlp.vocab)
                matcher.add(key, compile_pattern(rule.pattern, split))
                self.everywhere[key] = matcher
                continue
            index, words = anchor
            variants = _compile_variants(rule.pattern, split, index, self._strings)
            for word in words:
                if not by_anchor[word] or by_anchor[word][-1][0] != key:
                    by_anchor[word].append((key, variants))
                wanted[word].append(("anchor", word))
        for type_name, words in (keywords or {}).items():
            for word in words:
                wanted[word].append(("keyword", type_name))
        self._phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        split_phrases = splitter.split(wanted)
        groups = {word: _AnchorGroup(split_phrases[word].key, tries)
                  for word, tries in by_anchor.items() if word in split_phrases}
        # match id -> what a found phrase means.
        self._meaning: dict[int, PhraseMeaning] = {}
        self._keyed: list[tuple[tuple[int, ...], PhraseMeaning]] = []
        for text, phrase in split_phrases.items():
            # One matcher key per phrase: the match id says what it is without reading the tokens.
            key = "signal phrase " + text
            self._phrases.add(key, [phrase.key])
            meanings = list(dict.fromkeys(wanted[text]))
            meaning = PhraseMeaning([v for what, v in meanings if what == "rule"],
                                    [v for what, v in meanings if what == "keyword"],
                                    groups.get(text) if ("anchor", text) in meanings else None)
            self._meaning[self._strings[key]] = meaning
            self._keyed.append((phrase.key, meaning))

    def phrases(self) -> list[tuple[tuple[int, ...], PhraseMeaning]]:
        """(lower-case token ids, meaning) of every phrase the one pass looks for."""
        return list(self._keyed)

    def __call__(self, doc: Doc) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
        """(rule key, start, end) of every rule match, and (signal type, start, end) of every keyword."""
        meaning = self._meaning
        return self.match(doc, [(meaning[match_id], start, end) for match_id, start, end in self._phrases(doc)])

    def match(self, doc: Doc, found: list[tuple[PhraseMeaning, int, int]], lowers: list[int] | None = None
              ) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
        """`__call__` from where the phrases are (by start, then end), however they were found;
        `lowers`: the doc's lower-case token ids, when the caller has read them."""
        rule_hits: list[tuple[str, int, int]] = []
        keyword_hits: list[tuple[str, int, int]] = []
        anchored: list[tuple[_AnchorGroup, int, int]] = []
        for (rules, keywords, group), start, end in found:
            for key in rules:
                rule_hits.append((key, start, end))
            for type_name in keywords:
                keyword_hits.append((type_name, start, end))
            if group is not None:
                anchored.append((group, start, end))
        if anchored:
            words = _Words(doc, doc.to_array(LOWER).tolist() if lowers is None else lowers)
            lower = words.lower
            n = len(lower)
            found: dict[str, set[tuple[int, int]]] = {}
            for group, start, end in anchored:
                if group.anywhere:
                    _try(group.anywhere, words, n, start, end, found)
                if end < n and group.after:
                    tries = group.after.get(lower[end])
                    if tries:
                        _try(tries, words, n, start, end, found)
                if start and group.before:
                    tries = group.before.get(lower[start - 1])
                    if tries:
                        _try(tries, words, n, start, end, found)
            if found:
                matched = list(found)
                if len(matched) > 1:
                    matched.sort(key=lambda k: _first_try(k, anchored))
                for key in matched:
                    spans = found[key]
                    rule_hits.extend((key, start, end) for start, end in (sorted(spans) if len(spans) > 1 else spans))
        for key, matcher in self.everywhere.items():
            rule_hits.extend((key, start, end) for _, start, end in matcher(doc))
        return rule_hits, keyword_hits


class _Words:
    """A doc's tokens as rule tests read them: lower-case ids in a list (a Token object per look costs
    more), the doc for the rest, and the set of its words once a form asks what words are there."""

    __slots__ = ("doc", "lower", "_present")

    def __init__(self, doc: Doc, lower: list[int]) -> None:
        self.doc, self.lower = doc, lower
        self._present: set[int] | None = None

    def lack_any(self, needed: tuple[frozenset[int], ...]) -> bool:
        """Is one of these sets of words (each: any of them will do) missing from the doc altogether?"""
        present = self._present
        if present is None:
            present = self._present = set(self.lower)
        for words in needed:
            if words.isdisjoint(present):
                return True
        return False


def _try(tries: list[tuple[str, _Variant]], words: _Words, n: int, start: int, end: int,
         found: dict[str, set[tuple[int, int]]]) -> None:
    for key, variant in tries:
        spans = variant.matches(words, n, start, end)
        if spans:
            if key in found:
                found[key].update(spans)
            else:
                found[key] = set(spans)


def _first_try(key: str, anchored: list[tuple[_AnchorGroup, int, int]]) -> tuple[int, int]:
    """Which anchor found first could have matched the rule: rules are reported in that order (as
    when every rule an anchor word stands for was tried in turn), so that equally strong evidence is
    chosen the same way whatever the filing skipped."""
    for n, (group, _, _) in enumerate(anchored):
        position = group.position.get(key)
        if position is not None:
            return n, position
    return len(anchored), 0


class _AnchorGroup:
    """The rule forms one anchor word may start a match for, filed under the word they need next to it."""

    __slots__ = ("after", "before", "anywhere", "position")

    def __init__(self, anchor: tuple[int, ...], tries: list[tuple[str, list[_Variant]]]) -> None:
        after: dict[int, list[tuple[str, _Variant]]] = defaultdict(list)
        before: dict[int, list[tuple[str, _Variant]]] = defaultdict(list)
        self.anywhere: list[tuple[str, _Variant]] = []
        self.position = {key: n for n, (key, _) in reversed(list(enumerate(tries)))}
        for key, variants in tries:
            for variant in variants:
                if not variant.takes_anchor(anchor):
                    continue
                if variant.after_words is not None:
                    for word in variant.after_words:
                        after[word].append((key, variant))
                elif variant.before_words is not None:
                    for word in variant.before_words:
                        before[word].append((key, variant))
                else:
                    self.anywhere.append((key, variant))
        self.after, self.before = dict(after), dict(before)


class _Spec(NamedTuple):
    """One token of a compiled pattern: a test of (words, i), whether it may be skipped, and the
    lower-case word ids it accepts when it tests nothing else."""

    test: Callable[[_Words, int], bool] | None  # None: any token (the pattern's "~")
    optional: bool
    words: frozenset[int] | None = None
    texts: tuple[str, ...] | None = None  # the same words as text


class _Variant:
    """One compiled form of a rule, with where its anchor word sits among its tokens.

    Runs of optional any-tokens ("~ ~ ~") become one step that skips 0..n tokens.
    """

    def __init__(self, specs: list[_Spec], anchor_start: int, anchor_end: int) -> None:
        self.before = _steps(specs[:anchor_start][::-1])
        self.anchor = specs[anchor_start:anchor_end]
        self.after = _steps(specs[anchor_end:])
        # The token right before / after the anchor when the pattern requires one there: most
        # tries end at that one test, before any sets are made.
        self.next_before = self.before[0][:2] if self.before and not self.before[0][2] else None
        self.next_after = self.after[0][:2] if self.after and not self.after[0][2] else None
        # The words a match must have right before / after the anchor (None: no such set), that the
        # form is filed under: a required word, or an optional word or the required word after it
        # ("chief to? step|steps ...": "to" or "step" follows the anchor).
        self.before_words = _next_words(specs[:anchor_start][::-1])
        self.after_words = _next_words(specs[anchor_end:])
        # Past "~" tokens, the words one of which a match must have within reach of the anchor
        # ("new ~? ~? ~? office|plant ...": one of those among the three tokens after "new").
        self.after_window = _window(specs[anchor_end:])
        self.before_window = _window(specs[:anchor_start][::-1])
        self.anchor_tests = [(offset, spec.test) for offset, spec in enumerate(self.anchor) if spec.words is None]
        # Rare words the form needs besides its anchor and the neighbour it is filed under (each: one
        # of these), rarest first: a doc without one of them cannot match, whatever the tests say.
        if self.after_words is not None:
            filed = anchor_end if not specs[anchor_end].optional else None
        else:
            filed = anchor_start - 1 if self.before_words is not None and not specs[anchor_start - 1].optional \
                else None
        needed = [spec for i, spec in enumerate(specs) if spec.words is not None and not spec.optional
                  and not anchor_start <= i < anchor_end and i != filed and _mass(spec.texts) < RARE_MASS]
        needed.sort(key=lambda spec: _mass(spec.texts))
        self.needed = tuple(dict.fromkeys(spec.words for spec in needed))[:NEEDED_CHECKED]

    def takes_anchor(self, anchor: tuple[int, ...]) -> bool:
        """Can the anchor phrase (its lower-case word ids) be this form's anchor tokens?"""
        return len(anchor) == len(self.anchor) and all(
            spec.words is None or word in spec.words for spec, word in zip(self.anchor, anchor))

    def matches(self, words: _Words, n: int, start: int, end: int) -> list[tuple[int, int]] | None:
        """Every match whose anchor is tokens start..end (an anchor `takes_anchor` accepted)."""
        lower = words.lower
        if self.after_window is not None:
            skip, wanted = self.after_window
            if wanted.isdisjoint(lower[end:end + skip + 1]):
                return None
        if self.before_window is not None:
            skip, wanted = self.before_window
            if wanted.isdisjoint(lower[max(start - skip - 1, 0):start]):
                return None
        if self.next_after is not None:
            if end >= n:
                return None
            wanted, test = self.next_after
            if not (lower[end] in wanted if wanted is not None else test(words, end)):
                return None
        if self.next_before is not None:
            if start == 0:
                return None
            wanted, test = self.next_before
            if not (lower[start - 1] in wanted if wanted is not None else test(words, start - 1)):
                return None
        for offset, test in self.anchor_tests:
            if not test(words, start + offset):
                return None
        # After the tests around the anchor (they cost less than a set of the doc's words, made once
        # a form first asks for it).
        if self.needed and words.lack_any(self.needed):
            return None  # a word the form needs is nowhere in the doc
        starts = [start]
        for wanted, test, optional, skip in self.before:
            if skip:  # (the order of positions is of no account: matches end up in a set)
                if len(starts) == 1:
                    starts = list(range(max(starts[0] - skip, 0), starts[0] + 1))
                else:
                    starts = list({p - k for p in starts for k in range(skip + 1) if p - k >= 0})
                continue
            if wanted is not None:  # a set of words: looked up here, not through a test's call
                step = [p - 1 for p in starts if p > 0 and lower[p - 1] in wanted]
            else:
                step = [p - 1 for p in starts if p > 0 and test(words, p - 1)]
            starts = list(set(starts + step)) if optional else step
            if not starts:
                return None
        ends = [end]
        for wanted, test, optional, skip in self.after:
            if skip:
                if len(ends) == 1:
                    ends = list(range(ends[0], min(ends[0] + skip, n) + 1))
                else:
                    ends = list({p + k for p in ends for k in range(skip + 1) if p + k <= n})
                continue
            if wanted is not None:
                step = [p + 1 for p in ends if p < n and lower[p] in wanted]
            else:
                step = [p + 1 for p in ends if p < n and test(words, p)]
            ends = list(set(ends + step)) if optional else step
            if not ends:
                return None
        return [(s, e) for s in starts for e in ends]


def _next_words(specs: list[_Spec]) -> frozenset[int] | None:
    """The words one of which must be the first of `specs` in any match: the words of the first
    required word, and of the optional words before it; None when any token may come first (a
    "~", a test such as #NUM) or none need come (all optional)."""
    words: set[int] = set()
    for spec in specs:
        if spec.words is None:
            return None
        words |= spec.words
        if not spec.optional:
            return frozenset(words)
    return None


def _window(specs: list[_Spec]) -> tuple[int, frozenset[int]] | None:
    """(k, words): a match has one of the words among the first k + 1 of `specs`' tokens, where k
    optional any-tokens lead; None when nothing of the kind is known."""
    skip = 0
    while skip < len(specs) and specs[skip].test is None and specs[skip].optional:
        skip += 1
    words = _next_words(specs[skip:])
    return None if words is None else (skip, words)


def _steps(specs: list[_Spec]) -> list[tuple[frozenset[int] | None, Callable | None, bool, int]]:
    """(words, test, optional, tokens it may skip): runs of optional any-tokens as one skip; `words`
    are the lower-case ids a word test accepts (its `test` then says the same)."""
    steps: list[tuple[frozenset[int] | None, Callable | None, bool, int]] = []
    for spec in specs:
        if spec.test is None and spec.optional:
            if steps and steps[-1][3]:
                steps[-1] = (None, None, True, steps[-1][3] + 1)
            else:
                steps.append((None, None, True, 1))
        else:
            steps.append((spec.words, spec.test or (lambda words, i: True), spec.optional, 0))
    return steps


def _compile_variants(pattern: str, split, anchor_index: int, strings) -> list[_Variant]:
    """The pattern as `compile_pattern` reads it, as token tests, remembering the anchor word's tokens."""
    variants: list[tuple[list[_Spec], int, int]] = [([], 0, 0)]
    for i, word in enumerate(pattern.split()):
        options = [[_spec(token, strings) for token in option] for option in _word_options(pattern, word, split)]
        variants = [(specs + option, len(specs) if i == anchor_index else a, len(specs) + len(option)
                     if i == anchor_index else b) for specs, a, b in variants for option in options]
    return [_Variant(specs, a, b) for specs, a, b in variants]


def _spec(token: dict, strings) -> _Spec:
    """A test for one spaCy Matcher token pattern of the kinds `compile_pattern` writes."""
    optional = token.get("OP") == "?"
    lower = token.get("LOWER")
    if isinstance(lower, str):
        wanted = get_string_id(lower)
        return _Spec(lambda words, i: words.lower[i] == wanted, optional, frozenset({wanted}), (lower,))
    if isinstance(lower, dict) and "IN" in lower:
        hashes = frozenset(get_string_id(w) for w in lower["IN"])
        return _Spec(lambda words, i: words.lower[i] in hashes, optional, hashes, tuple(lower["IN"]))
    if isinstance(lower, dict) and "REGEX" in lower:
        regex = re.compile(lower["REGEX"])
        seen: dict[int, bool] = {}  # lower-case word id -> matches (words repeat across the news)

        def test(words: _Words, i: int) -> bool:
            word = words.lower[i]
            hit = seen.get(word)
            if hit is None:
                if len(seen) > 100_000:
                    seen.clear()
                hit = seen[word] = regex.search(strings[word]) is not None
            return hit

        return _Spec(test, optional)
    if token.get("LIKE_NUM"):
        return _Spec(lambda words, i: words.doc[i].like_num, optional)
    if token.get("IS_TITLE"):
        return _Spec(lambda words, i: words.doc[i].is_title, optional)
    if set(token) <= {"OP"}:
        return _Spec(None, optional)
    raise ValueError(f"no test for token pattern {token!r}")


def _as_phrases(pattern: str, limit: int = 2000) -> list[str]:
    """Every phrase a pattern of plain required words stands for; [] when it has anything else."""
    words = pattern.split()
    if any(w.endswith("?") or w == "~" or "#" in w for w in words):
        return []
    phrases = [""]
    for word in words:
        choices = [c for c in word.lower().split("|") if c]
        if len(phrases) * len(choices) > limit:
            return []
        phrases = [f"{p} {c}".strip() for p in phrases for c in choices]
    return phrases


def anchor_words(pattern: str) -> list[str]:
    """The alternatives of the pattern's rarest required word (by English word frequency)."""
    anchor = _anchor(pattern)
    return anchor[1] if anchor else []


def _anchor(pattern: str) -> tuple[int, list[str]] | None:
    """(position, alternatives) of the pattern's rarest required word."""
    best: tuple[float, int, list[str]] | None = None
    for i, word in enumerate(pattern.split()):
        if word.endswith("?") or word == "~" or "#" in word:
            continue
        choices = [w for w in word.lower().split("|") if w]
        mass = sum(math.exp(log_probability(c)) for c in choices)
        if best is None or mass < best[0]:
            best = (mass, i, choices)
    return (best[1], best[2]) if best else None


def _combine(found) -> tuple[float, list[tuple[tuple[int, int], tuple[float, str, str]]]]:
    """Noisy-OR over distinct pieces of evidence: many words for one idea are not many ideas.

    Returns the score and the pieces chosen, strongest first ((start, end), (weight, where, kind)).
    """
    if len(found) == 1:
        weight, where, rule, start, end = found[0]
        return round(min(MAX_SCORE, 1 - 1.0 * (1 - weight)), 3), [((start, end), (weight, where, "pattern" if rule
                                                                                           else "keyword"))]
    best: dict[tuple[int, int], tuple[float, str, str]] = {}
    for weight, where, rule, start, end in found:
        # Overlapping matches of one type are the same evidence: keep the strongest per token range.
        key = (start, end)
        kind = "pattern" if rule else "keyword"
        if key not in best or best[key][0] < weight:
            best[key] = (weight, where, kind)
    # Strongest first; equally strong ones in the order found (plain phrases, then each rule's
    # matches by position), so the choice among overlapping ties does not depend on hash order.
    spans = sorted(best.items(), key=lambda kv: -kv[1][0])
    chosen: list[tuple[tuple[int, int], tuple[float, str, str]]] = []
    for (start, end), value in spans:
        if any(s < end and start < e for (s, e), _ in chosen):
            continue
        chosen.append(((start, end), value))
    missing = 1.0
    for _, (weight, _, _) in chosen:
        missing *= 1 - weight
    return round(min(MAX_SCORE, 1 - missing), 3), chosen


def _participants(found, mentions: Sequence[MentionSpan]) -> list[tuple[str | None, str | None]]:
    """Which prospects the event is about, with their role where the words tell it."""
    if not mentions:
        return [(None, None)]
    roles: dict[str, str | None] = {}
    for _, where, rule, start, end in (sorted(found, key=_strongest_first) if len(found) > 1 else found):
        if rule is None:
            continue
        before = after = None  # the closest mention within reach on each side, in the same field
        for m in mentions:
            if m.where != where:
                continue
            if m.end <= start:
                if start - m.end <= ROLE_WINDOW and (before is None or m.end > before.end):
                    before = m
            elif m.start >= end and m.start - end <= ROLE_WINDOW and (after is None or m.start < after.start):
                after = m
        if before is not None and roles.get(before.prospect_id) is None:
            roles[before.prospect_id] = rule.before
        if after is not None and roles.get(after.prospect_id) is None:
            roles[after.prospect_id] = rule.after
    if not roles:
        mentioned = list(dict.fromkeys(m.prospect_id for m in mentions))
        return [(p, None) for p in mentioned] or [(None, None)]
    return list(roles.items())


def _mass(words: Iterable[str]) -> float:
    """How often English text has any of these words (unigram probability)."""
    return sum(math.exp(log_probability(w)) for w in words)


def _strongest_first(hit: tuple) -> float:
    return -hit[0]


def _splitter(nlp: Language):
    cache: dict[str, list[str]] = {}

    def split(word: str) -> list[str]:
        if word not in cache:
            cache[word] = [t.lower_ for t in nlp.tokenizer(word)]
        return cache[word]

    return split


def _field_of(doc: Doc, token_i: int, fields) -> str:
    char = doc[token_i].idx
    for name, start, end in fields:
        if start <= char < end:
            return name
    return "body"


# --- the pattern language ---------------------------------------------------------------------

CURRENCY = ["$", "€", "£", "¥", "us$", "usd", "eur", "gbp", "c$", "a$", "chf", "₹", "inr"]
AMOUNT = r"^\d[\d,.]*(k|m|mn|mln|b|bn|bln|million|billion)?$"
SCALE = ["million", "billion", "m", "bn", "mln", "b", "k", "mn", "trillion"]


def compile_pattern(pattern: str, split=None) -> list[list[dict]]:
    """The pattern language (module docstring) into spaCy Matcher patterns.

    `split(word)` gives the tokens the tokenizer makes of a word: "lay-offs" is
    three tokens, so an alternative like that becomes a pattern of its own.
    """
    split = split or (lambda word: [word])
    variants: list[list[dict]] = [[]]
    for word in pattern.split():
        variants = [v + option for v in variants for option in _word_options(pattern, word, split)]
    if not variants[0] or all(t.get("OP") == "?" for t in variants[0]):
        raise ValueError(f"signal pattern {pattern!r} matches nothing in particular")
    return variants


def _word_options(pattern: str, word: str, split) -> list[list[dict]]:
    """The token patterns one word of a pattern can be (one list per alternative that splits)."""
    optional = word.endswith("?") and len(word) > 1
    word = word[:-1] if optional else word
    op = {"OP": "?"} if optional else {}
    if word == "~":
        return [[{"OP": "?"}]]
    if word == "#MONEY":
        return [[{"LOWER": {"IN": CURRENCY}, **op}, {"LOWER": {"REGEX": AMOUNT}, **op},
                 {"LOWER": {"IN": SCALE}, "OP": "?"}]]
    if word == "#NUM":
        return [[{"LIKE_NUM": True, **op}]]
    if word == "#CAP":
        return [[{"IS_TITLE": True, **op}]]
    choices = [w for w in word.lower().split("|") if w]
    if not choices:
        raise ValueError(f"empty token in signal pattern {pattern!r}")
    single = [c for c in choices if len(split(c)) == 1]
    options = [[{"LOWER": {"IN": single}, **op}]] if single else []
    options += [[{"LOWER": part, **op} for part in split(c)] for c in choices if len(split(c)) > 1]
    return options


def build_taxonomy(config: SignalsConfig) -> list[SignalType]:
    """The built-in taxonomy with the YAML `signals.types` overrides applied."""
    types = {t.name: t for t in DEFAULT_TAXONOMY}
    for name, override in config.types.items():
        types[name] = _override(types.get(name), name, override)
    return [t for t in types.values() if t.rules or t.keywords]


def _override(base: SignalType | None, name: str, override: SignalTypeConfig) -> SignalType:
    if not override.enabled:
        return SignalType(name, (), (), ())
    keep = base is not None and not override.replace
    rules = (base.rules if keep else ()) + tuple(
        Rule(r) if isinstance(r, str) else Rule(r.pattern, r.before, r.after, r.weight)
        for r in override.patterns)
    keywords = (base.keywords if keep else ()) + tuple(override.keywords)
    stages = tuple(override.stages) if override.stages is not None else (base.stages if base else STAGES)
    return SignalType(name, stages, rules, keywords)


def stage_map(config: SignalsConfig) -> dict[str, tuple[str, ...]]:
    """signal type -> the sales stages it helps (for docs, the API and feeds' stage filter)."""
    return {t.name: t.stages for t in build_taxonomy(config)}


def describe_rules(signal_type: SignalType) -> Iterable[str]:
    for rule in signal_type.rules:
        roles = ", ".join(f"{k}={v}" for k, v in (("before", rule.before), ("after", rule.after)) if v)
        yield f"{rule.pattern}" + (f"  ({roles})" if roles else "")

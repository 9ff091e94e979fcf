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
from typing import Callable, Iterable, NamedTuple, Sequence

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

    def detect(self, doc: Doc, fields: Sequence[tuple[str, int, int]],
               mentions: Sequence[MentionSpan]) -> list[Signal]:
        hits: dict[str, list[tuple[float, str, Rule | None, int, int]]] = defaultdict(list)
        rule_hits, keyword_hits = self.matcher(doc)
        if not rule_hits and not keyword_hits:
            return []
        places: dict[int, str] = {}
        for key, start, end in rule_hits:
            type_name, rule, strength = self._rules[key]
            where = places.get(start) or places.setdefault(start, _field_of(doc, start, fields))
            hits[type_name].append((strength * FIELD_WEIGHT[where], where, rule, start, end))
        for type_name, start, end in keyword_hits:
            where = places.get(start) or places.setdefault(start, _field_of(doc, start, fields))
            hits[type_name].append((KEYWORD_WEIGHT * FIELD_WEIGHT[where], where, None, start, end))
        signals = []
        for type_name, found in hits.items():
            score, chosen = _combine(found)
            if score < self.min_score:
                continue
            evidence = tuple(f"{where}: {kind} {span_text(doc, s, e)!r}" for (s, e), (_, where, kind) in chosen[:5])
            stages = self.types[type_name].stages
            for prospect_id, role in _participants(found, mentions):
                signals.append(Signal(type_name, score, evidence, prospect_id, role, stages))
        signals.sort(key=lambda s: (-s.score, s.type, s.prospect_id or ""))
        return signals


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
    """

    def __init__(self, nlp: Language, rules: dict[str, Rule], keywords: dict[str, list[str]] | None = None) -> None:
        split = _splitter(nlp)
        splitter = PhraseSplitter(nlp)
        self._strings = nlp.vocab.strings
        self.by_anchor: dict[str, list[tuple[str, list[_Variant]]]] = defaultdict(list)
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
            variants = _compile_variants(rule.pattern, split, index)
            for word in words:
                if not self.by_anchor[word] or self.by_anchor[word][-1][0] != key:
                    self.by_anchor[word].append((key, variants))
                wanted[word].append(("anchor", word))
        for type_name, words in (keywords or {}).items():
            for word in words:
                wanted[word].append(("keyword", type_name))
        self._meaning: dict[int, list[tuple[str, str]]] = {}
        self._phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        for text, phrase in splitter.split(wanted).items():
            # One matcher key per phrase: the match id says what it is without reading the tokens.
            key = "signal phrase " + text
            self._phrases.add(key, [phrase.key])
            self._meaning[self._strings[key]] = list(dict.fromkeys(wanted[text]))

    def __call__(self, doc: Doc) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
        """(rule key, start, end) of every rule match, and (signal type, start, end) of every keyword."""
        rule_hits: list[tuple[str, int, int]] = []
        keyword_hits: list[tuple[str, int, int]] = []
        anchored: list[tuple[str, int, int]] = []
        for match_id, start, end in self._phrases(doc):
            for what, value in self._meaning[match_id]:
                if what == "rule":
                    rule_hits.append((value, start, end))
                elif what == "keyword":
                    keyword_hits.append((value, start, end))
                else:
                    anchored.append((value, start, end))
        if anchored:
            tokens = _Tokens(doc)
            found: dict[str, set[tuple[int, int]]] = defaultdict(set)
            for word, start, end in anchored:
                for key, variants in self.by_anchor[word]:
                    for variant in variants:
                        variant.matches(tokens, start, end, found[key])
            for key, spans in found.items():
                rule_hits.extend((key, start, end) for start, end in sorted(spans))
        for key, matcher in self.everywhere.items():
            rule_hits.extend((key, start, end) for _, start, end in matcher(doc))
        return rule_hits, keyword_hits


class _Tokens:
    """A doc's tokens, each made once and only when a rule looks at it."""

    __slots__ = ("doc", "n", "_made")

    def __init__(self, doc: Doc) -> None:
        self.doc, self.n, self._made = doc, len(doc), {}

    def __getitem__(self, i: int):
        token = self._made.get(i)
        if token is None:
            token = self._made[i] = self.doc[i]
        return token


class _Spec(NamedTuple):
    """One token of a compiled pattern: a test and whether it may be skipped."""

    test: Callable[[object], bool] | None  # None: any token (the pattern's "~")
    optional: bool


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
        self.next_before = self.before[0][0] if self.before and not self.before[0][1] else None
        self.next_after = self.after[0][0] if self.after and not self.after[0][1] else None

    def matches(self, tokens: _Tokens, start: int, end: int, into: set[tuple[int, int]]) -> None:
        """Add every match whose anchor is tokens[start:end]."""
        if end - start != len(self.anchor):
            return
        if self.next_after is not None and (end >= tokens.n or not self.next_after(tokens[end])):
            return
        if self.next_before is not None and (start == 0 or not self.next_before(tokens[start - 1])):
            return
        for offset, spec in enumerate(self.anchor):
            if not spec.test(tokens[start + offset]):
                return
        starts = {start}
        for test, optional, skip in self.before:
            if skip:
                starts = {p - k for p in starts for k in range(skip + 1) if p - k >= 0}
                continue
            step = {p - 1 for p in starts if p > 0 and test(tokens[p - 1])}
            starts = starts | step if optional else step
            if not starts:
                return
        ends = {end}
        n = tokens.n
        for test, optional, skip in self.after:
            if skip:
                ends = {p + k for p in ends for k in range(skip + 1) if p + k <= n}
                continue
            step = {p + 1 for p in ends if p < n and test(tokens[p])}
            ends = ends | step if optional else step
            if not ends:
                return
        into.update((s, e) for s in starts for e in ends)


def _steps(specs: list[_Spec]) -> list[tuple[Callable | None, bool, int]]:
    """(test, optional, tokens it may skip): runs of optional any-tokens as one skip."""
    steps: list[tuple[Callable | None, bool, int]] = []
    for spec in specs:
        if spec.test is None and spec.optional:
            if steps and steps[-1][2]:
                steps[-1] = (None, True, steps[-1][2] + 1)
            else:
                steps.append((None, True, 1))
        else:
            steps.append((spec.test or (lambda t: True), spec.optional, 0))
    return steps


def _compile_variants(pattern: str, split, anchor_index: int) -> list[_Variant]:
    """The pattern as `compile_pattern` reads it, as token tests, remembering the anchor word's tokens."""
    variants: list[tuple[list[_Spec], int, int]] = [([], 0, 0)]
    for i, word in enumerate(pattern.split()):
        options = [[_spec(token) for token in option] for option in _word_options(pattern, word, split)]
        variants = [(specs + option, len(specs) if i == anchor_index else a, len(specs) + len(option)
                     if i == anchor_index else b) for specs, a, b in variants for option in options]
    return [_Variant(specs, a, b) for specs, a, b in variants]


def _spec(token: dict) -> _Spec:
    """A test for one spaCy Matcher token pattern of the kinds `compile_pattern` writes."""
    optional = token.get("OP") == "?"
    lower = token.get("LOWER")
    if isinstance(lower, str):
        wanted = get_string_id(lower)
        return _Spec(lambda t: t.lower == wanted, optional)
    if isinstance(lower, dict) and "IN" in lower:
        hashes = frozenset(get_string_id(w) for w in lower["IN"])
        return _Spec(lambda t: t.lower in hashes, optional)
    if isinstance(lower, dict) and "REGEX" in lower:
        regex = re.compile(lower["REGEX"])
        return _Spec(lambda t: regex.search(t.lower_) is not None, optional)
    if token.get("LIKE_NUM"):
        return _Spec(lambda t: t.like_num, optional)
    if token.get("IS_TITLE"):
        return _Spec(lambda t: t.is_title, optional)
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
    roles: dict[str, str | None] = {}
    for _, where, rule, start, end in sorted(found, key=lambda f: -f[0]):
        if rule is None:
            continue
        near = [m for m in mentions if m.where == where]
        before = [m for m in near if m.end <= start and start - m.end <= ROLE_WINDOW]
        after = [m for m in near if m.start >= end and m.start - end <= ROLE_WINDOW]
        if before:
            closest = max(before, key=lambda m: m.end)
            if roles.get(closest.prospect_id) is None:
                roles[closest.prospect_id] = rule.before
        if after:
            closest = min(after, key=lambda m: m.start)
            if roles.get(closest.prospect_id) is None:
                roles[closest.prospect_id] = rule.after
    if not roles:
        mentioned = list(dict.fromkeys(m.prospect_id for m in mentions))
        return [(p, None) for p in mentioned] or [(None, None)]
    return list(roles.items())


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

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
from collections import defaultdict
from typing import Iterable, Iterator, NamedTuple, Sequence

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from intel.common_words import log_probability
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
        self.keywords = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._rules: dict[str, tuple[str, Rule]] = {}
        for signal_type in self.types.values():
            for n, rule in enumerate(signal_type.rules):
                self._rules[f"{signal_type.name}#{n}"] = (signal_type.name, rule)
            keywords = list(dict.fromkeys(k.lower() for k in signal_type.keywords))
            self.keywords.add(signal_type.name, list(nlp.tokenizer.pipe(keywords)))
        self.matcher = AnchoredRules(nlp, {key: rule for key, (_, rule) in self._rules.items()})
        self._vocab = nlp.vocab

    def stages(self, signal_type: str) -> tuple[str, ...]:
        known = self.types.get(signal_type)
        return known.stages if known else ()

    def detect(self, doc: Doc, fields: Sequence[tuple[str, int, int]],
               mentions: Sequence[MentionSpan]) -> list[Signal]:
        hits: dict[str, list[tuple[float, str, Rule | None, int, int]]] = defaultdict(list)
        for key, start, end in self.matcher(doc):
            type_name, rule = self._rules[key]
            where = _field_of(doc, start, fields)
            hits[type_name].append((rule.strength * FIELD_WEIGHT[where], where, rule, start, end))
        for match_id, start, end in self.keywords(doc):
            type_name = self._vocab.strings[match_id]
            where = _field_of(doc, start, fields)
            hits[type_name].append((KEYWORD_WEIGHT * FIELD_WEIGHT[where], where, None, start, end))
        signals = []
        for type_name, found in hits.items():
            score, evidence = _combine(doc, found)
            if score < self.min_score:
                continue
            stages = self.types[type_name].stages
            for prospect_id, role in _participants(found, mentions):
                signals.append(Signal(type_name, score, evidence, prospect_id, role, stages))
        signals.sort(key=lambda s: (-s.score, s.type, s.prospect_id or ""))
        return signals


class AnchoredRules:
    """Each rule's Matcher runs only around its rarest required word, which a PhraseMatcher finds.

    A spaCy Matcher tests every pattern at every token; with a taxonomy of a
    hundred-odd patterns full of optional words that costs far more than
    reading the text. Any match must contain the rule's anchor word, so a
    window of the rule's length on each side of an anchor hit finds the same
    matches as a scan of the whole doc.
    """

    def __init__(self, nlp: Language, rules: dict[str, Rule]) -> None:
        split = _splitter(nlp)
        self._strings = nlp.vocab.strings
        self.anchors = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.by_anchor: dict[str, list[str]] = defaultdict(list)
        self.matchers: dict[str, Matcher] = {}
        self.reach: dict[str, int] = {}
        self.everywhere: list[str] = []
        self.phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        for key, rule in rules.items():
            phrases = _as_phrases(rule.pattern)
            if phrases:  # only plain words: a PhraseMatcher does it at hash-lookup speed
                self.phrases.add(key, list(nlp.tokenizer.pipe(phrases)))
                continue
            variants = compile_pattern(rule.pattern, split)
            matcher = Matcher(nlp.vocab)
            matcher.add(key, variants)
            self.matchers[key] = matcher
            self.reach[key] = max(len(v) for v in variants)
            words = anchor_words(rule.pattern)
            for word in words:
                self.by_anchor[word].append(key)
            if not words:
                self.everywhere.append(key)
        for word, doc in zip(self.by_anchor, nlp.tokenizer.pipe(list(self.by_anchor))):
            self.anchors.add(word, [doc])

    def __call__(self, doc: Doc) -> Iterator[tuple[str, int, int]]:
        for match_id, start, end in self.phrases(doc):
            yield self._strings[match_id], start, end
        windows: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for match_id, start, end in self.anchors(doc):
            for key in self.by_anchor[self._strings[match_id]]:
                reach = self.reach[key]
                windows[key].append((max(0, start - reach), min(len(doc), end + reach)))
        for key in self.everywhere:
            windows[key].append((0, len(doc)))
        for key, spans in windows.items():
            for start, end in _merged(spans):
                for _, match_start, match_end in self.matchers[key](doc[start:end]):
                    yield key, start + match_start, start + match_end


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
    best: tuple[float, list[str]] | None = None
    for word in pattern.split():
        if word.endswith("?") or word == "~" or "#" in word:
            continue
        choices = [w for w in word.lower().split("|") if w]
        mass = sum(math.exp(log_probability(c)) for c in choices)
        if best is None or mass < best[0]:
            best = (mass, choices)
    return best[1] if best else []


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans.sort()
    merged = [spans[0]]
    for start, end in spans[1:]:
        if start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _combine(doc: Doc, found) -> tuple[float, tuple[str, ...]]:
    """Noisy-OR over distinct pieces of evidence: many words for one idea are not many ideas."""
    best: dict[tuple[int, int], tuple[float, str, str]] = {}
    for weight, where, rule, start, end in found:
        # Overlapping matches of one type are the same evidence: keep the strongest per token range.
        key = (start, end)
        kind = "pattern" if rule else "keyword"
        if key not in best or best[key][0] < weight:
            best[key] = (weight, where, kind)
    spans = sorted(best.items(), key=lambda kv: -kv[1][0])
    chosen: list[tuple[tuple[int, int], tuple[float, str, str]]] = []
    for (start, end), value in spans:
        if any(s < end and start < e for (s, e), _ in chosen):
            continue
        chosen.append(((start, end), value))
    missing = 1.0
    for _, (weight, _, _) in chosen:
        missing *= 1 - weight
    score = round(min(MAX_SCORE, 1 - missing), 3)
    evidence = tuple(f"{where}: {kind} {doc[s:e].text!r}" for (s, e), (_, where, kind) in chosen[:5])
    return score, evidence


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
        optional = word.endswith("?") and len(word) > 1
        word = word[:-1] if optional else word
        op = {"OP": "?"} if optional else {}
        if word == "~":
            options = [[{"OP": "?"}]]
        elif word == "#MONEY":
            options = [[{"LOWER": {"IN": CURRENCY}, **op}, {"LOWER": {"REGEX": AMOUNT}, **op},
                        {"LOWER": {"IN": SCALE}, "OP": "?"}]]
        elif word == "#NUM":
            options = [[{"LIKE_NUM": True, **op}]]
        elif word == "#CAP":
            options = [[{"IS_TITLE": True, **op}]]
        else:
            choices = [w for w in word.lower().split("|") if w]
            if not choices:
                raise ValueError(f"empty token in signal pattern {pattern!r}")
            single = [c for c in choices if len(split(c)) == 1]
            options = [[{"LOWER": {"IN": single}, **op}]] if single else []
            options += [[{"LOWER": part, **op} for part in split(c)] for c in choices if len(split(c)) > 1]
        variants = [v + option for v in variants for option in options]
    if not variants[0] or all(t.get("OP") == "?" for t in variants[0]):
        raise ValueError(f"signal pattern {pattern!r} matches nothing in particular")
    return variants


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

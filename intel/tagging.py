"""Tag text against the prospect list with spaCy.

The matcher is built once from tokenizer docs (`tokenizer.pipe`, never
`nlp()`): names, their legal-suffix-free base names, aliases, domains and
executives, matched case-insensitively; tickers case-sensitively and only
next to `$` or an exchange prefix. Each surviving mention gets a score in
[0, 1] and the evidence behind it.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence
from urllib.parse import urlsplit

import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from intel.prospects import company_basename
from intel.settings import ProspectRecord
from intel.text import plain_text
from models.values import Mention, Signal

log = logging.getLogger(__name__)

EXCHANGES = {"NASDAQ", "NYSE", "LSE", "TSX", "ASX", "XETRA", "FRA", "EPA", "AMS", "SIX", "HKEX",
             "TSE", "NSE", "BSE", "OTC", "NYSEARCA", "AMEX", "ETR", "SWX", "BIT", "BME", "STO", "HEL",
             "CPH", "OSE"}
KIND_WEIGHT = {"name": 0.7, "alias": 0.65, "domain": 0.85, "ticker": 0.85, "person": 0.6}
FIELD_BONUS = {"title": 0.2, "lead": 0.1, "summary": 0.0, "body": -0.05, "link": 0.0}


@dataclass(frozen=True)
class TagInput:
    title: str
    summary: str = ""
    content: str = ""
    url: str | None = None


@dataclass(frozen=True)
class TagResult:
    mentions: tuple[Mention, ...] = ()
    signals: tuple[Signal, ...] = ()


@dataclass
class _Evidence:
    kind: str
    where: str
    text: str
    confirmed_by: list[str] = field(default_factory=list)
    weakened_by: list[str] = field(default_factory=list)

    def describe(self) -> str:
        notes = "".join(f"; confirmed by {c}" for c in self.confirmed_by)
        notes += "".join(f"; weakened: {w}" for w in self.weakened_by)
        return f"{self.where}: {self.kind} {self.text!r}{notes}"


def load_pipeline(model: str | None) -> Language:
    """The named spaCy pipeline, or a blank English one (said once, at start-up)."""
    if model:
        nlp = spacy.load(model, exclude=["lemmatizer"])
        log.info("tagging with spaCy pipeline %s", model)
        return nlp
    log.info("tagging with spacy.blank('en'): no statistical model configured (tagging.model)")
    return spacy.blank("en")


class ProspectTagger:
    """Finds prospect mentions in items; build once per prospect list."""

    def __init__(self, prospects: Sequence[ProspectRecord], nlp: Language | None = None,
                 min_score: float = 0.5) -> None:
        self.nlp = nlp or spacy.blank("en")
        self.min_score = min_score
        self.prospects = {p.id: p for p in prospects}
        self._by_term: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self._by_domain: dict[str, str] = {}
        self._by_ticker: dict[str, list[str]] = defaultdict(list)
        self._excludes: dict[str, list[str]] = defaultdict(list)
        self.matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self.exclude_matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self._build(prospects)

    def _build(self, prospects: Sequence[ProspectRecord]) -> None:
        for p in prospects:
            terms = {p.name: "name", company_basename(p.name): "name"}
            for alias in p.aliases:
                terms.setdefault(alias, "alias")
            for person in p.people:
                terms.setdefault(person, "person")
            for domain in p.domains:
                terms.setdefault(domain, "domain")
                self._by_domain[domain.lower()] = p.id
            for term, kind in terms.items():
                if term.strip():
                    self._by_term[term.lower()].append((p.id, kind))
            for ticker in p.tickers:
                self._by_ticker[ticker.upper()].append(p.id)
            for phrase in p.exclude:
                self._excludes[phrase.lower()].append(p.id)
        self._add_phrases(self.matcher, self._by_term)
        self._add_phrases(self.exclude_matcher, self._excludes)

    def _add_phrases(self, matcher: PhraseMatcher, phrases: Iterable[str]) -> None:
        phrases = list(phrases)
        for phrase, doc in zip(phrases, self.nlp.tokenizer.pipe(phrases, batch_size=1000)):
            matcher.add(phrase, [doc])

    # --- tagging -------------------------------------------------------------------------

    def tag(self, item: TagInput) -> TagResult:
        return self.tag_many([item])[0]

    def tag_many(self, items: Sequence[TagInput]) -> list[TagResult]:
        texts = [_compose(item) for item in items]
        docs = self.nlp.pipe((text for text, _ in texts), batch_size=64)
        return [self._tag_doc(doc, bounds, item) for doc, (_, bounds), item in zip(docs, texts, items)]

    def _tag_doc(self, doc: Doc, bounds: list[tuple[str, int, int]], item: TagInput) -> TagResult:
        excluded = self._excluded_spans(doc)
        found: dict[str, list[_Evidence]] = defaultdict(list)
        for match_id, start, end in self.matcher(doc):
            span = doc[start:end]
            term = self.nlp.vocab.strings[match_id]
            for prospect_id, kind in self._by_term[term]:
                if _inside(span, excluded.get(prospect_id, ())):
                    continue
                found[prospect_id].append(self._judge(span, kind, _where(span, bounds), prospect_id))
        for prospect_id, evidence in self._ticker_mentions(doc, bounds):
            found[prospect_id].append(evidence)
        for prospect_id, evidence in self._link_mentions(item.url):
            found[prospect_id].append(evidence)
        mentions = []
        for prospect_id, evidence in found.items():
            score = self._score(prospect_id, evidence, doc)
            if score >= self.min_score:
                mentions.append(Mention(prospect_id, round(score, 3), tuple(e.describe() for e in evidence)))
        mentions.sort(key=lambda m: (-m.score, m.prospect_id))
        return TagResult(mentions=tuple(mentions))

    def _excluded_spans(self, doc: Doc) -> dict[str, list[Span]]:
        spans: dict[str, list[Span]] = defaultdict(list)
        for match_id, start, end in self.exclude_matcher(doc):
            for prospect_id in self._excludes[self.nlp.vocab.strings[match_id]]:
                spans[prospect_id].append(doc[start:end])
        return spans

    def _judge(self, span: Span, kind: str, where: str, prospect_id: str) -> _Evidence:
        evidence = _Evidence(kind, where, span.text)
        if kind in ("name", "alias") and span.text.islower() and not _is_lower_name(self.prospects[prospect_id]):
            evidence.weakened_by.append("not capitalized")
        return evidence

    def _ticker_mentions(self, doc: Doc, bounds) -> Iterable[tuple[str, _Evidence]]:
        for token in doc:
            prospect_ids = self._by_ticker.get(token.text)
            if not prospect_ids or token.i == 0:
                continue
            before = doc[token.i - 1]
            prefixed = before.text == "$" or (before.text == ":" and token.i >= 2
                                               and doc[token.i - 2].text.upper() in EXCHANGES)
            if prefixed:
                for prospect_id in prospect_ids:
                    yield prospect_id, _Evidence("ticker", _where(doc[token.i - 1:token.i + 1], bounds),
                                                 doc[max(0, token.i - 2):token.i + 1].text)

    def _link_mentions(self, url: str | None) -> Iterable[tuple[str, _Evidence]]:
        host = (urlsplit(url).hostname or "").lower() if url else ""
        while host and "." in host:
            if host in self._by_domain:
                yield self._by_domain[host], _Evidence("domain", "link", host)
                return
            host = host.split(".", 1)[1]

    def _score(self, prospect_id: str, evidence: list[_Evidence], doc: Doc) -> float:
        prospect = self.prospects[prospect_id]
        strong = [e for e in evidence if e.kind in ("domain", "ticker", "person")]
        names = [e for e in evidence if e.kind in ("name", "alias")]
        confirmations = [f"keyword {k!r}" for k in prospect.keywords if _has_phrase(doc, k)]
        if strong:
            confirmations.append(f"{strong[0].kind} {strong[0].text!r}")
        clean_names = [e for e in names if not e.weakened_by]
        if prospect.ambiguous and not confirmations:
            return 0.0  # an ambiguous name alone (Apple, Target, Shell) is not enough
        if names and not clean_names and not confirmations:
            return 0.0  # only lowercase uses of a capitalized name: 'apple', 'target'
        best = max(KIND_WEIGHT[e.kind] + FIELD_BONUS[e.where] - 0.3 * bool(e.weakened_by) for e in evidence)
        kinds = {e.kind for e in evidence}
        best += 0.05 * (len(kinds) - 1) + 0.05 * min(len(confirmations), 2)
        if confirmations and evidence:
            evidence[0].confirmed_by.extend(confirmations)
        return max(0.0, min(1.0, best))


def _compose(item: TagInput) -> tuple[str, list[tuple[str, int, int]]]:
    """One text for the whole item, with the character range of each field."""
    parts, bounds, offset = [], [], 0
    summary = plain_text(item.summary)
    lead, _, rest = summary.partition(". ")
    fields = [("title", plain_text(item.title)), ("lead", lead + ("." if rest else "")),
              ("summary", rest), ("body", plain_text(item.content))]
    for name, text in fields:
        if not text:
            continue
        bounds.append((name, offset, offset + len(text)))
        parts.append(text)
        offset += len(text) + 2
    return "\n\n".join(parts), bounds


def _where(span: Span, bounds: list[tuple[str, int, int]]) -> str:
    for name, start, end in bounds:
        if start <= span.start_char < end:
            return name
    return "body"


def _inside(span: Span, spans: Iterable[Span]) -> bool:
    return any(s.start <= span.start and span.end <= s.end for s in spans)


def _has_phrase(doc: Doc, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)", doc.text.lower()) is not None


def _is_lower_name(prospect: ProspectRecord) -> bool:
    return prospect.name.islower()

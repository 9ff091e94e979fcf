"""Tag text against the prospect list with spaCy: mentions, trigger-event signals, organizations.

Every form of every prospect is split by the pipeline's tokenizer rules (never
`nlp()`) into a phrase index (`intel.phrase_index`) that is updated in place
when prospects change (`ProspectTagger.update`), so 100,000 prospects cost one
hash lookup per token like ten do, and a matched phrase costs Python work
only for what it means.

A mention's score is `confidence × salience`:
- confidence that the words mean this prospect, a noisy-OR of independent
  evidence (the matched form itself, then what confirms it: the prospect's
  ticker, domain, executive, keywords, a legal suffix, capitalization in
  running text, an ORG entity from a statistical model);
- salience, how much the item is about it: the title and the first sentence
  rank above a passing mention further down.
A name that is also an everyday word (Apple, Target, Shell) starts with low
confidence and needs confirmation; `exclude` phrases always reject.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence
from urllib.parse import urlsplit

import spacy
from cleanco.clean import get_unique_terms
from spacy.attrs import LOWER
from spacy.language import Language
from spacy.strings import get_string_id
from spacy.tokens import Doc, Span

from intel.common_words import is_common_word
from intel.phrase_index import PhraseIndex, PhraseSplitter, span_text
from intel.prospects import company_basename
from intel.settings import ProspectRecord, SignalsConfig
from intel.signals import SignalDetector, MentionSpan
from intel.text import plain_text
from models.values import Mention, Signal

log = logging.getLogger(__name__)

EXCHANGES = frozenset({"NASDAQ", "NYSE", "LSE", "TSX", "ASX", "XETRA", "FRA", "EPA", "AMS", "SIX", "HKEX",
                       "TSE", "NSE", "BSE", "OTC", "NYSEARCA", "AMEX", "ETR", "SWX", "BIT", "BME", "STO",
                       "HEL", "CPH", "OSE", "TYO", "KRX", "SGX", "JSE", "BMV", "BVMF", "EURONEXT", "OTCMKTS"})

# How likely each kind of match alone means the prospect (before confirmations).
BASE_CONFIDENCE = {"legal_name": 0.96, "name": 0.9, "alias": 0.88, "acronym": 0.8, "domain": 0.95,
                   "ticker": 0.95, "person": 0.75}
# Forms whose confidence is theirs alone: judging reads nothing around them.
_SURE_KINDS = frozenset({"domain", "ticker", "acronym", "legal_name"})
AMBIGUOUS_CONFIDENCE = 0.3   # "Apple" alone: as likely the fruit as the company
LOWERCASE_CONFIDENCE = 0.3   # "nvidia" in lower case where the name is capitalized
# What one piece of confirming evidence is worth (combined by noisy-OR).
CONFIRMATION_WEIGHT = {"ticker": 0.85, "domain": 0.85, "legal suffix": 0.8, "person": 0.6,
                       "keyword": 0.55, "running text": 0.45, "NER ORG": 0.7, "other form": 0.5,
                       "company verb": 0.4}
# An entity label that says the words name something other than a company.
CONTRADICTING_ENTS = frozenset({"PERSON", "GPE", "LOC", "NORP", "FAC", "EVENT", "WORK_OF_ART", "LANGUAGE",
                                "DATE", "TIME", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL", "PERCENT"})
HOST_OWNERS_KEPT = 20_000  # hosts whose owner (or none) is remembered between items
TAG_BATCH = 256  # items tokenized (and run through a statistical model) together
SALIENCE = {"title": 1.0, "lead": 0.95, "link": 0.85, "summary": 0.85, "body": 0.75}
FIELD_ORDER = ("title", "lead", "link", "summary", "body")
_FIELD_RANK = {name: n for n, name in enumerate(FIELD_ORDER)}
MAX_SCORE = 0.99  # certainty is never claimed: evidence can always be wrong
SENTENCE_BREAKS = frozenset(".!?:;\"“”'‘’—–-([|")
# Words that follow a company acting in the news ("Intel said", "Apple to open").
COMPANY_VERBS = frozenset("""said says told announced announces reported reports plans planned expects
    confirmed confirms agreed agrees will to has shares stock unveiled launched denied denies ceo chief
    executives spokesperson spokesman spokeswoman posted warned cut cuts raised raises""".split())
# Town-then-state ("Corning, N.Y."): the AP abbreviations and names of U.S. states.
US_STATES = frozenset("""ala. alaska ariz. ark. calif. colo. conn. del. fla. ga. hawaii idaho ill. ind. iowa kan.
    ky. la. maine md. mass. mich. minn. miss. mo. mont. neb. nev. n.h. n.j. n.m. n.y. n.c. n.d. ohio okla. ore.
    pa. r.i. s.c. s.d. tenn. texas utah vt. va. wash. w.va. wis. wyo. alabama arizona arkansas california
    colorado connecticut delaware florida georgia illinois indiana kansas kentucky louisiana maryland
    massachusetts michigan minnesota mississippi missouri montana nebraska nevada oklahoma oregon
    pennsylvania tennessee vermont virginia washington wisconsin wyoming ny nj ca tx""".split())
# "word.tld" somewhere in the text (only whether, never where): the dot first, then what is around
# it, lets the regex engine jump from dot to dot instead of trying a character class at every place.
_HOST_LIKE = re.compile(r"\.(?<=[a-z0-9-]\.)[a-z]{2}", re.IGNORECASE)
TITLE_SMALL_WORDS = frozenset("a an the of and or in on to for with at by from as vs via into over per up".split())
_TITLE_SMALL_IDS = frozenset(get_string_id(w) for w in TITLE_SMALL_WORDS)  # as Token.lower has them
# Legal-form words after a bare name ("Apple Inc"); two-letter forms that are also
# English words ("AS", "AT", "AD") would confirm too much, so they are left out.
_LEGAL_TERMS = frozenset(t.strip(" .,").lower() for t in get_unique_terms() if " " not in t.strip())
LEGAL_SUFFIXES = frozenset(t for t in _LEGAL_TERMS if t and t not in {"as", "at", "ad", "da", "ba", "ab", "ay",
                                                                       "aj", "ae", "ee", "ei", "ec", "ep", "bl",
                                                                       "bm", "at", "ans", "ent", "ky", "oy"})


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
    # Organizations a statistical model found that are not prospects (lead discovery).
    organizations: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Term:
    prospect_id: str
    kind: str        # legal_name | name | alias | acronym | person | domain | ticker
    text: str        # as written in the prospect record
    ambiguous: bool  # an everyday word: needs confirmation


class _Occurrence:
    """One place a prospect's form occurs, and how sure judging is that it means the prospect."""

    __slots__ = ("term", "where", "start", "end", "text", "notes", "confidence")

    def __init__(self, term: _Term, where: str, start: int, end: int, text: str) -> None:
        self.term = term
        self.where = where
        self.start, self.end = start, end  # token offsets in the doc (0, 0 for the item's link)
        self.text = text                   # the words as the item writes them
        self.notes: list[str] = []
        self.confidence = 0.0

    def describe(self) -> str:
        if not self.notes:
            return f"{self.where}: {self.term.kind} {self.text!r}"
        notes = "".join(f"; {n}" for n in self.notes)
        return f"{self.where}: {self.term.kind} {self.text!r}{notes}"


def load_pipeline(model: str | None) -> Language:
    """The named spaCy pipeline, or a blank English one (said once, at start-up).

    Only what entity recognition needs is kept running: the tagger, parser and
    lemmatizer would triple the cost and nothing here reads them.
    """
    if not model:
        log.info("tagging with spacy.blank('en'): no statistical model configured (tagging.model); "
                 "ambiguous names need other evidence and lead discovery is off")
        return spacy.blank("en")
    try:
        nlp = spacy.load(model)
    except OSError as exc:
        raise TaggingModelError(f"tagging.model {model!r} is not an installed spaCy pipeline "
                                f"(pip install it, or set tagging.model: null): {exc}") from exc
    keep = {"ner"} | {name for name in ("tok2vec", "transformer") if name in nlp.pipe_names
                      and "ner" in getattr(nlp.get_pipe(name), "listening_components", ())}
    nlp.select_pipes(enable=[name for name in nlp.pipe_names if name in keep])
    log.info("tagging with spaCy pipeline %s (%s); running %s", model, nlp.meta.get("version", "?"),
             ", ".join(nlp.pipe_names) or "the tokenizer only")
    return nlp


class TaggingModelError(RuntimeError):
    """The configured statistical model cannot be loaded."""


def has_ner(nlp: Language) -> bool:
    return "ner" in nlp.pipe_names


class ProspectTagger:
    """Finds prospect mentions and signals in items; build once, `update` when prospects change."""

    def __init__(self, prospects: Sequence[ProspectRecord], nlp: Language | None = None,
                 min_score: float = 0.5, signals: SignalsConfig | None = None) -> None:
        self.nlp = nlp or spacy.blank("en")
        self.min_score = min_score
        self.uses_ner = has_ner(self.nlp)
        self.prospects: dict[str, ProspectRecord] = {}
        self.signals = SignalDetector(self.nlp, signals or SignalsConfig())
        # Every form of every prospect, its exclude phrases and keywords, in one phrase index:
        # one matcher pass per item finds them all.
        self._phrases = PhraseIndex(self.nlp)
        # Acronyms and tickers as written: keyed by lower case, 100,000 random tickers would make
        # "the", "and" and "said" candidates everywhere.
        self._exact = PhraseIndex(self.nlp, attr="ORTH")
        self._splitter = PhraseSplitter(self.nlp)
        self._by_domain: dict[str, str] = {}
        # host -> (owner, the domain of it that is theirs): a feed's items share their links' host.
        self._host_owners: dict[str, tuple[str | None, str]] = {}
        # Who owns each exclude phrase and keyword: one index entry per phrase however many prospects
        # share it ("software" may be the keyword of thousands), read only for the prospects found.
        self._owners: dict[str, dict[tuple[int, ...], set[str]]] = {"exclude": {}, "keyword": {}}
        self._entries: dict[str, list[tuple[tuple[int, ...], tuple]]] = {}  # prospect -> what it added
        # The signal rules' words are phrases of the same index: one matcher pass finds both.
        for key, meaning in self.signals.phrases():
            self._phrases.add(key, ("signal", meaning))
        self.update(prospects)

    # --- building --------------------------------------------------------------------------

    def update(self, prospects: Sequence[ProspectRecord]) -> int:
        """Make the tagger match exactly `prospects`; only changed records are touched.

        Returns how many prospect records were added, changed or removed.
        """
        wanted = {p.id: p for p in prospects}
        stale = [pid for pid, old in self.prospects.items() if wanted.get(pid) != old]
        for pid in stale:
            self._remove(pid)
        fresh = [p for pid, p in wanted.items() if pid not in self.prospects]
        pending = [(record, list(_entries_for(record))) for record in fresh]
        phrases = self._splitter.split(raw for _, entries in pending for _, raw, _ in entries)
        for record, entries in pending:
            self.prospects[record.id] = record
            added = []
            for kind, raw, value in entries:
                phrase = phrases.get(raw)
                if phrase is None:  # nothing but spaces
                    continue
                if kind in self._owners:
                    owners = self._owners[kind].get(phrase.key)
                    if owners is None:
                        owners = self._owners[kind][phrase.key] = set()
                        self._phrases.add(phrase.key, (kind, owners))
                    owners.add(record.id)
                    added.append((phrase.key, (kind, record.id)))
                    continue
                key = phrase.orths if kind == "exact" else phrase.key
                meaning = (kind, value)
                (self._exact if kind == "exact" else self._phrases).add(key, meaning)
                added.append((key, meaning))
                if isinstance(value, _Term) and value.kind == "domain":
                    self._by_domain[value.text.lower()] = record.id
            self._entries[record.id] = added
        self._phrases.commit()
        self._exact.commit()
        self._host_owners.clear()
        return len(stale) + len([p for p in fresh if p.id not in stale])

    def _remove(self, prospect_id: str) -> None:
        self.prospects.pop(prospect_id, None)
        for key, meaning in self._entries.pop(prospect_id, ()):
            kind, value = meaning[0], meaning[1]
            if kind in self._owners:
                owners = self._owners[kind][key]
                owners.discard(prospect_id)
                if not owners:
                    self._phrases.remove(key, (kind, owners))
                    del self._owners[kind][key]
                continue
            (self._exact if kind == "exact" else self._phrases).remove(key, meaning)
            if isinstance(value, _Term) and value.kind == "domain" \
                    and self._by_domain.get(value.text.lower()) == prospect_id:
                del self._by_domain[value.text.lower()]

    # --- tagging ---------------------------------------------------------------------------

    def tag(self, item: TagInput) -> TagResult:
        return self.tag_many([item])[0]

    def tag_many(self, items: Sequence[TagInput], *, signals: bool = True) -> list[TagResult]:
        """Tag items in one batch; `signals=False` finds prospect mentions only."""
        items = list(items)
        results = []
        for first in range(0, len(items), TAG_BATCH):
            batch = items[first:first + TAG_BATCH]
            composed = [_compose(item) for item in batch]
            texts = [text for text, _ in composed]
            # A batch is tokenized before any of it is tagged: the tokenizer's caches stay warm from
            # doc to doc instead of being pushed out by the tagging between them.
            if self.nlp.pipeline:
                docs = list(self.nlp.pipe(texts, batch_size=TAG_BATCH))
            else:
                docs = [self.nlp.make_doc(text) for text in texts]
            for doc, (text, fields), item in zip(docs, composed, batch):
                doc.user_data["text"] = text  # Doc.text rebuilds the string token by token: keep ours
                results.append(self._tag_doc(doc, fields, item, signals))
        return results

    def _tag_doc(self, doc: Doc, fields: list[tuple[str, int, int]], item: TagInput,
                 with_signals: bool = True) -> TagResult:
        # Every token's lower-case id, read once: the phrase pass and the signal rules look words up
        # by it far more often than a Token object per look would be worth.
        lowers = doc.to_array(LOWER).tolist()
        found, exclude_hits, keyword_hits, signal_phrases = self._phrase_hits(doc, fields, lowers)
        by_prospect = self._occurrences(doc, fields, item.url, found, exclude_hits)
        if not by_prospect:
            signals = self.signals.detect(doc, fields, [], signal_phrases, lowers) if with_signals else []
            return TagResult(signals=tuple(signals), organizations=self._organizations(doc, ()))
        context = _DocContext(doc, fields, self.uses_ner, lowers)
        keywords = _keywords_found(doc, by_prospect, exclude_hits, keyword_hits)
        mentions, spans = [], []
        for prospect_id, found_here in by_prospect.items():
            for occurrence in found_here:
                if occurrence.term.kind in _SURE_KINDS:  # nothing around these words changes them
                    occurrence.confidence = BASE_CONFIDENCE[occurrence.term.kind]
                else:
                    self._judge(occurrence, context)
            score, confidence, salience, confirmations = _score(found_here, keywords.get(prospect_id, ()))
            if score >= self.min_score:
                evidence = _evidence(found_here, confirmations, confidence, salience)
                mentions.append(Mention(prospect_id, score, tuple(evidence)))
                for o in found_here:
                    if o.where != "link":
                        spans.append(MentionSpan(prospect_id, o.start, o.end, o.where))
        if len(mentions) > 1:
            mentions.sort(key=_mention_order)
        signals = self.signals.detect(doc, fields, spans, signal_phrases, lowers) if with_signals else []
        return TagResult(tuple(mentions), tuple(signals), self._organizations(doc, spans))

    def _phrase_hits(self, doc: Doc, fields, lowers: list[int] | None = None):
        """Name and exact-form occurrences, excluded spans and keyword places, from one matcher pass.

        `lowers`: the doc's lower-case token ids, when the caller has read them (`_tag_doc`)."""
        names: list[_Occurrence] = []
        exclude_hits: list[tuple[set[str], int, int]] = []
        keyword_hits: list[tuple[set[str], int, int]] = []
        signal_phrases: list[tuple[object, int, int]] = []
        text = doc.user_data.get("text")
        for start, end, meanings in self._phrases.find(doc, lowers):
            if len(meanings) == 1 and meanings[0][0] == "signal":  # most phrases found: a rule's word
                signal_phrases.append((meanings[0][1], start, end))
                continue
            words = where = None
            for meaning in meanings:
                kind, value = meaning[0], meaning[1]
                if kind == "names":
                    if words is None:
                        words, where = _words_and_field(doc, text, start, end, fields)
                    names.append(_Occurrence(value, where, start, end, words))
                elif kind == "signal":
                    signal_phrases.append((value, start, end))
                elif kind == "exclude":
                    exclude_hits.append((value, start, end))
                else:
                    keyword_hits.append((value, start, end))
        for start, end, meanings in self._exact.find(doc):
            words = where = None
            for _, term in meanings:
                if term.kind == "ticker" and not _ticker_prefixed(doc, start):
                    continue
                if words is None:
                    words, where = _words_and_field(doc, text, start, end, fields)
                names.append(_Occurrence(term, where, start, end, words))
        return names, exclude_hits, keyword_hits, signal_phrases

    def _occurrences(self, doc: Doc, fields, url: str | None, found: list[_Occurrence],
                     exclude_hits: list[tuple[set[str], int, int]]) -> dict[str, list[_Occurrence]]:
        """The occurrences that count, grouped by prospect in the order found."""
        if found and exclude_hits:
            excluded = _excluded(exclude_hits, {o.term.prospect_id for o in found})
            found = [o for o in found if not any(s <= o.start and o.end <= e
                                                 for s, e in excluded.get(o.term.prospect_id, ()))]
        by_prospect = _by_prospect(found)
        if len(by_prospect) < len(found):  # a prospect found more than once: one match may hold another
            by_prospect = _by_prospect(_longest_per_prospect(found, by_prospect))
        more: list[_Occurrence] = []
        if self._by_domain and _HOST_LIKE.search(doc.user_data.get("text", "")):
            more.extend(self._url_mentions(doc, fields))  # only then can a URL token hide a domain
        if url:
            more.extend(self._link_mentions(url))
        for pid, extra in _by_prospect(more).items():
            by_prospect.setdefault(pid, []).extend(extra)
        return by_prospect

    def _url_mentions(self, doc: Doc, fields) -> Iterator[_Occurrence]:
        # URLs stay one token, so a domain inside "https://www.acme.com/news" needs its own look.
        for token in doc:
            if not token.like_url:
                continue
            prospect_id, host = self._domain_owner(token.text)
            if prospect_id:
                term = _Term(prospect_id, "domain", host, False)
                yield _Occurrence(term, _where(doc, token.i, fields), token.i, token.i + 1, token.text)

    def _link_mentions(self, url: str | None) -> Iterator[_Occurrence]:
        prospect_id, host = self._domain_owner(url or "")
        if prospect_id:
            yield _Occurrence(_Term(prospect_id, "domain", host, False), "link", 0, 0, "")

    def _domain_owner(self, text: str) -> tuple[str | None, str]:
        if not text:
            return None, ""
        host = url_host(text)
        if host is None:
            return None, ""
        owner = self._host_owners.get(host)
        if owner is None:
            if len(self._host_owners) >= HOST_OWNERS_KEPT:
                self._host_owners.clear()
            owner = self._host_owners[host] = self._host_owner(host)
        return owner

    def _host_owner(self, host: str) -> tuple[str | None, str]:
        while host.count("."):
            if host in self._by_domain:
                return self._by_domain[host], host
            host = host.split(".", 1)[1]
        return None, ""

    def _judge(self, occurrence: _Occurrence, context: _DocContext) -> None:
        """Set one occurrence's confidence from the form matched and what surrounds it."""
        term, doc = occurrence.term, context.doc
        start, end, text = occurrence.start, occurrence.end, occurrence.text
        notes = occurrence.notes
        if term.kind in _SURE_KINDS or start == end:
            occurrence.confidence = BASE_CONFIDENCE[term.kind]
            return
        confidence = BASE_CONFIDENCE[term.kind]
        if text.islower() and not term.text.islower():
            confidence = LOWERCASE_CONFIDENCE
            notes.append("not capitalized")
        elif term.ambiguous:
            confidence = AMBIGUOUS_CONFIDENCE
            notes.append("ambiguous word")
        if term.ambiguous or confidence == LOWERCASE_CONFIDENCE:
            suffix = _legal_suffix_after(doc, end)
            capitalized = not text.islower()
            if suffix:
                confidence = _noisy_or(confidence, CONFIRMATION_WEIGHT["legal suffix"])
                notes.append(f"legal suffix {suffix!r}")
            else:
                running_text = occurrence.where != "title" or not context.title_cased()
                if capitalized and running_text and _inside_longer_name(doc, start):
                    confidence *= 0.3
                    notes.append(f"weakened: part of another name {span_text(doc, start - 1, end)!r}")
                elif capitalized and _place_follows(doc, end):
                    confidence *= 0.3
                    notes.append("weakened: a place name follows")
                else:
                    if capitalized and running_text and not _sentence_initial(doc, start):
                        confidence = _noisy_or(confidence, CONFIRMATION_WEIGHT["running text"])
                        notes.append("capitalized in running text")
                    if capitalized and _acts_like_a_company(doc, end):
                        confidence = _noisy_or(confidence, CONFIRMATION_WEIGHT["company verb"])
                        notes.append(f"followed by {doc[end].text!r}")
        if self.uses_ner:
            label = context.entity_label(start, end)
            if term.kind == "person":
                if label == "PERSON":
                    confidence = _noisy_or(confidence, 0.5)
                    notes.append("NER PERSON")
            elif label == "ORG":
                confidence = _noisy_or(confidence, CONFIRMATION_WEIGHT["NER ORG"])
                notes.append("NER ORG")
            elif label in CONTRADICTING_ENTS:
                # A small model's doubt should sink a doubtful word, not a distinctive name.
                doubtful = term.ambiguous or "not capitalized" in notes
                confidence *= 0.5 if doubtful else 0.85
                notes.append(f"weakened: NER says {label}")
        occurrence.confidence = confidence

    def _organizations(self, doc: Doc, spans: Iterable[MentionSpan]) -> tuple[str, ...]:
        """ORG entities that are not prospects ("Apple and Foxconn" leaves "Foxconn")."""
        if not self.uses_ner:
            return ()
        taken = {i for s in spans for i in range(s.start, s.end)}
        names: list[str] = []
        for ent in doc.ents:
            if ent.label_ != "ORG":
                continue
            for part in _untaken_runs(ent, taken):
                name = part.text.strip(" '’\"“”")
                name = name[:-2].rstrip() if name.endswith(("'s", "’s")) else name
                if len(name) >= 2 and any(c.isupper() for c in name) and name not in names \
                        and not self._names_a_prospect(part):
                    names.append(name)
        return tuple(names)

    def _names_a_prospect(self, span: Span) -> bool:
        """Is this stretch of words one of the prospects' forms (case-insensitively, or exactly for acronyms)?"""
        named = self._phrases.meanings.get(tuple(t.lower for t in span), ())
        return any(meaning[0] == "names" for meaning in named) \
            or bool(self._exact.meanings.get(tuple(t.orth for t in span)))


class _DocContext:
    """What judging needs to know about a doc, each worked out once and only when asked."""

    def __init__(self, doc: Doc, fields, uses_ner: bool, lowers: list[int] | None = None) -> None:
        self.doc, self.fields, self.lowers = doc, fields, lowers
        self._title_cased: bool | None = None
        self._ents: list[tuple[int, int, str]] | None = None if uses_ner else []

    def title_cased(self) -> bool:
        if self._title_cased is None:
            self._title_cased = _title_is_title_cased(self.doc, self.fields, self.lowers)
        return self._title_cased

    def entity_label(self, start: int, end: int) -> str | None:
        if self._ents is None:
            self._ents = [(ent.start, ent.end, ent.label_) for ent in self.doc.ents]
        for ent_start, ent_end, label in self._ents:
            if ent_start < end and start < ent_end:
                return label
        return None


def _excluded(exclude_hits: list[tuple[set[str], int, int]], candidates: set[str]) -> dict[str, list[tuple[int, int]]]:
    """Where each candidate prospect's exclude phrases are in the doc."""
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for owners, start, end in exclude_hits:
        for prospect_id in candidates & owners:
            spans[prospect_id].append((start, end))
    return spans


def _keywords_found(doc: Doc, by_prospect: dict[str, list[_Occurrence]],
                    exclude_hits: list[tuple[set[str], int, int]],
                    keyword_hits: list[tuple[set[str], int, int]]) -> dict[str, list[str]]:
    """Each candidate prospect's keywords in the text, outside its own name and excluded phrases."""
    found: dict[str, list[str]] = defaultdict(list)
    if not keyword_hits:
        return found
    taken = {pid: [(o.start, o.end) for o in group] for pid, group in by_prospect.items()}
    for prospect_id, spans in _excluded(exclude_hits, set(taken)).items():
        taken[prospect_id].extend(spans)
    for owners, start, end in keyword_hits:
        for prospect_id in taken.keys() & owners:
            if any(s < end and start < e for s, e in taken[prospect_id]):
                continue
            text = span_text(doc, start, end)
            if text not in found[prospect_id]:
                found[prospect_id].append(text)
    return found


def _untaken_runs(ent: Span, taken: set[int]) -> Iterator[Span]:
    """The stretches of an entity outside prospect mentions, without joining words at their ends."""
    start = None
    for i in range(ent.start, ent.end + 1):
        if i < ent.end and i not in taken:
            start = i if start is None else start
            continue
        if start is not None:
            run = ent.doc[start:i]
            while len(run) and (run[0].is_punct or run[0].lower_ in ("and", "&", "of", "with")):
                run = run[1:]
            while len(run) and (run[-1].is_punct or run[-1].lower_ in ("and", "&", "of", "with")):
                run = run[:-1]
            if len(run):
                yield run
            start = None


# --- prospect records into phrase entries --------------------------------------------------

def _entries_for(record: ProspectRecord) -> Iterator[tuple[str, str, object]]:
    """(kind, phrase, value) for everything that counts as a mention of `record`.

    kind: "names" (matched in any case), "exact" (acronyms and tickers, as written),
    "exclude" and "keyword" (the value is then the prospect's id).
    """
    seen: set[tuple[str, str, bool]] = set()

    def term(text: str, kind: str) -> Iterator[tuple[str, str, object]]:
        text = text.strip()
        if not text:
            return
        acronym = _is_acronym(text)
        matcher = "exact" if acronym or kind == "ticker" else "names"
        mark = (matcher, text if matcher == "exact" else text.lower(), kind == "ticker")
        if mark in seen:
            return
        seen.add(mark)
        if kind in ("name", "alias") and acronym:
            kind = "acronym"
        yield matcher, text, _Term(record.id, kind, text, _ambiguous(record, text, kind))

    for form, kind in [(record.name, "name")] + [(a, "alias") for a in record.aliases]:
        base = company_basename(form)
        if base and base.lower() != form.strip().lower():
            yield from term(form, "legal_name")
            yield from term(base, kind)
        else:
            yield from term(form, kind)
    for person in record.people:
        yield from term(person, "person")
    for domain in record.domains:
        yield from term(domain, "domain")
    for ticker in record.tickers:
        yield from term(ticker.upper(), "ticker")
    for phrase in record.exclude:
        if phrase.strip():
            yield "exclude", phrase.strip(), record.id
    for keyword in record.keywords:
        if keyword.strip():
            yield "keyword", keyword.strip(), record.id


def _ambiguous(record: ProspectRecord, text: str, kind: str) -> bool:
    """Does this form of the name need confirmation before it counts?"""
    if kind not in ("name", "alias") or record.ambiguous is False or _is_acronym(text):
        return False
    one_word = len(text.split()) == 1
    if record.ambiguous is True:
        return one_word
    return one_word and is_common_word(text)


def _is_acronym(text: str) -> bool:
    # "SAP", "GM", "BP": matched case-sensitively, or "gm" and "bp" would be everywhere.
    if len(text) > 6 or " " in text:
        return False
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and len(text) <= 6 and " " not in text and all(c.isupper() for c in letters)


# --- judging ----------------------------------------------------------------------------------

def _score(found: list[_Occurrence], keywords: list[str]) -> tuple[float, float, float, list[str]]:
    """Combine a prospect's occurrences in one item: (score, confidence, salience, confirmations)."""
    if len(found) == 1:  # most prospects found once: the general case below, less its loops
        only = found[0]
        return _score_with_keywords(only.confidence, SALIENCE[only.where], [], keywords)
    found.sort(key=_reading_order)
    strongest = found[0]
    for o in found:
        if o.confidence > strongest.confidence:
            strongest = o
    confidence = strongest.confidence
    confirmations = []
    if strongest.confidence < 0.8:
        # A weak form (an ambiguous word) gets help from every other thing pointing the same way.
        kinds_seen = set()
        for other in found:
            if other is strongest or other.term.kind in kinds_seen:
                continue
            kinds_seen.add(other.term.kind)
            if other.term.kind in ("ticker", "domain", "person", "legal_name"):
                weight = CONFIRMATION_WEIGHT.get(other.term.kind, CONFIRMATION_WEIGHT["legal suffix"])
                confirmations.append(f"{other.term.kind} {other.text or other.term.text!r}")
                confidence = _noisy_or(confidence, weight * (0.5 if "not capitalized" in other.notes else 1))
            elif other.confidence >= 0.5 and other.text != strongest.text:
                confirmations.append(f"{other.term.kind} {other.text!r}")
                confidence = _noisy_or(confidence, CONFIRMATION_WEIGHT["other form"])
    # Salience: where the best-supported occurrence sits, plus a little for repetition.
    credible = [o for o in found if o.confidence >= 0.5] or found
    salience = max(SALIENCE[o.where] for o in credible)
    fields = {o.where for o in credible}
    salience = min(1.0, salience + 0.03 * (len(fields) - 1))
    return _score_with_keywords(confidence, salience, confirmations, keywords, strongest.confidence)


def _score_with_keywords(confidence: float, salience: float, confirmations: list[str], keywords: list[str],
                         strongest: float | None = None) -> tuple[float, float, float, list[str]]:
    """`_score`'s result once the prospect's keywords are counted: a weak form (its strongest
    occurrence below 0.8) takes each of three as confirmation, a strong one a little from any."""
    if keywords:
        if (confidence if strongest is None else strongest) < 0.8:
            for keyword in keywords[:3]:
                confirmations.append(f"keyword {keyword!r}")
                confidence = _noisy_or(confidence, CONFIRMATION_WEIGHT["keyword"])
        else:
            confirmations.extend(f"keyword {k!r}" for k in keywords[:3])
            confidence = _noisy_or(confidence, 0.2)
    return round(min(MAX_SCORE, confidence * salience), 3), confidence, salience, confirmations


def _mention_order(m: Mention) -> tuple[float, str]:
    return -m.score, m.prospect_id


def _reading_order(o: _Occurrence) -> tuple[int, float]:
    return _FIELD_RANK[o.where], -o.confidence


def _evidence(found: list[_Occurrence], confirmations: list[str], confidence: float, salience: float) -> list[str]:
    """What a kept mention shows as its reasons (written only for mentions that are kept)."""
    evidence = [o.describe() for o in found[:6]]
    if confirmations:
        evidence.append("item: confirmed by " + ", ".join(confirmations))
    evidence.append(f"score: confidence {confidence:.2f} × salience {salience:.2f}")
    return evidence


def _noisy_or(p: float, q: float) -> float:
    return 1 - (1 - p) * (1 - q)


# "scheme://host/...", "//host:port?..." of plain ASCII letters, digits, dots and dashes: the host is
# what urlsplit would say without its work (control characters, brackets, "user@", non-ASCII and
# anything else go through urlsplit).
_PLAIN_URL = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:)?//([A-Za-z0-9.-]*)(?::[0-9]*)?(?:[/?#][^\x00-\x20\x7f]*)?")


def url_host(text: str) -> str | None:
    """`urlsplit(text).hostname` (lower case, "" when it has none) of a URL or a bare "host/path";
    None when urlsplit refuses it ("[acme.com": a bracket reads as IPv6)."""
    if "//" not in text:
        text = "//" + text
    plain = _PLAIN_URL.fullmatch(text)
    if plain is not None:
        return plain.group(1).lower()
    try:
        return (urlsplit(text).hostname or "").lower()
    except ValueError:
        return None


def _by_prospect(found: list[_Occurrence]) -> dict[str, list[_Occurrence]]:
    """Occurrences grouped by prospect, in the order found."""
    grouped: dict[str, list[_Occurrence]] = {}
    for occurrence in found:
        pid = occurrence.term.prospect_id
        if pid in grouped:
            grouped[pid].append(occurrence)
        else:
            grouped[pid] = [occurrence]
    return grouped


def _longest_per_prospect(found: list[_Occurrence],
                          by_prospect: dict[str, list[_Occurrence]] | None = None) -> list[_Occurrence]:
    """Drop a match inside a longer match of the same prospect ("Apple" inside "Apple Inc.");
    `by_prospect`: `found` grouped, when the caller has it."""
    if len(found) < 2:
        return found
    if by_prospect is None:
        by_prospect = _by_prospect(found)
    if len(by_prospect) == len(found):  # one occurrence per prospect: nothing inside anything
        return found
    result = []
    kept: dict[str, list[_Occurrence]] = {}
    for occurrence in found:
        start, end, pid = occurrence.start, occurrence.end, occurrence.term.prospect_id
        same = by_prospect[pid]
        if len(same) > 1:
            inside = False
            for o in same:
                if o is not occurrence and o.start <= start and end <= o.end and o.end - o.start > end - start:
                    inside = True
                    break
            if inside:
                continue
            twin = False
            for o in kept.get(pid, ()):
                if o.start == start and o.end == end and o.term.kind == occurrence.term.kind:
                    twin = True
                    break
            if twin:
                continue
        result.append(occurrence)
        kept.setdefault(pid, []).append(occurrence)
    return result


def _ticker_prefixed(doc: Doc, i: int) -> bool:
    """`$ACME`, `NASDAQ: ACME`, `(NYSE:ACME)`: a bare ticker word is too often just a word."""
    if i == 0:
        return False
    before = doc[i - 1].text
    if before == "$":
        return True
    if before == ":" and i >= 2:
        return doc[i - 2].text.upper() in EXCHANGES
    return before.upper().rstrip(":") in EXCHANGES


def _legal_suffix_after(doc: Doc, i: int) -> str | None:
    if i < len(doc) and doc[i].text == ",":
        i += 1
    if i < len(doc):
        word = doc[i].text
        if word[:1].isupper() and word.strip(".").lower() in LEGAL_SUFFIXES:
            return word
    return None


def _acts_like_a_company(doc: Doc, end: int) -> bool:
    """'Intel said', 'Apple to open', 'Zoom shares': words that follow a company, not a fruit."""
    return end < len(doc) and doc[end].lower_ in COMPANY_VERBS


def _inside_longer_name(doc: Doc, start: int) -> bool:
    """'Harrison Ford', 'Niger Delta', 'Times Square': a capitalized word right before."""
    if start == 0:
        return False
    before = doc[start - 1]
    return (before.is_alpha and before.is_title and before.lower_ not in TITLE_SMALL_WORDS
            and not _sentence_initial(doc, before.i) and before.lower_ not in COMPANY_VERBS)


def _place_follows(doc: Doc, i: int) -> bool:
    """'Corning, N.Y.', 'Delta, Utah': a town, not the company."""
    return i + 1 < len(doc) and doc[i].text == "," and doc[i + 1].text.lower() in US_STATES


def _sentence_initial(doc: Doc, start: int) -> bool:
    if start == 0:
        return True
    before = doc[start - 1]
    return before.is_space or before.text in SENTENCE_BREAKS or "\n" in before.whitespace_


def _title_is_title_cased(doc: Doc, fields, lowers: list[int] | None = None) -> bool:
    """In a Title Cased Headline capital letters say nothing about names."""
    bounds = next(((start, end) for name, start, end in fields if name == "title"), None)
    if bounds is None:
        return False
    first, last = bounds
    text = doc.user_data.get("text")
    words = capitalized = 0
    for t in doc:  # the title's words (the tokens that overlap its characters; it comes first)
        at = t.idx
        if at >= last:
            break
        if t.is_alpha and (t.lower if lowers is None else lowers[t.i]) not in _TITLE_SMALL_IDS \
                and at + len(t) > first:
            words += 1
            capitalized += (t.text[0] if text is None else text[at]).isupper()
    if words < 3:
        return True
    return capitalized / words >= 0.75


# --- composing an item's text ----------------------------------------------------------------

def _compose(item: TagInput) -> tuple[str, list[tuple[str, int, int]]]:
    """One text for the whole item, with the character range of each field."""
    parts, bounds, offset = [], [], 0
    summary = plain_text(item.summary)
    lead, rest = _first_sentence(summary)
    fields = [("title", plain_text(item.title)), ("lead", lead), ("summary", rest),
              ("body", plain_text(item.content))]
    for name, text in fields:
        if not text:
            continue
        bounds.append((name, offset, offset + len(text)))
        parts.append(text)
        offset += len(text) + 2
    return "\n\n".join(parts), bounds


_SENTENCE_END = re.compile(r"[.!?] (?=[A-Z])")


def _first_sentence(text: str) -> tuple[str, str]:
    for match in _SENTENCE_END.finditer(text):
        # ". " followed by a capital ends a sentence; "Inc. said" and "U.S. firm" do not.
        i = match.start()
        word = text[text.rfind(" ", 0, i) + 1:i].lower().strip(".")  # the word before, as rsplit(" ") cuts it
        if word in LEGAL_SUFFIXES or len(word) <= 2:
            continue
        return text[:i + 1], text[i + 2:]
    return text, ""


def _words_and_field(doc: Doc, text: str | None, start: int, end: int,
                     bounds: list[tuple[str, int, int]]) -> tuple[str, str]:
    """doc[start:end] as the item writes it, and the field it starts in (`span_text` and `_where` in one)."""
    first = doc[start]
    char = first.idx
    if text is None:
        words = doc[start:end].text
    else:
        last = first if end - start == 1 else doc[end - 1]
        words = text[char:last.idx + len(last)]
    for name, field_start, field_end in bounds:
        if field_start <= char < field_end:
            return words, name
    return words, "body"


def _where(doc: Doc, start: int, bounds: list[tuple[str, int, int]]) -> str:
    char = doc[start].idx
    for name, first, end in bounds:
        if first <= char < end:
            return name
    return "body"

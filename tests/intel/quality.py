"""Measure tagging against the labelled set in tests/data/tagging (shared by the test and bench/)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from intel.prospects import assign_ids
from intel.settings import ProspectRecord
from intel.tagging import ProspectTagger, TagInput

DATA = Path(__file__).resolve().parents[1] / "data" / "tagging"


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    signal_f1: dict[str, float]
    mistakes: tuple[str, ...]
    # (lowest score of the band, mentions in it, share of them that are right): is a score a probability?
    calibration: tuple[tuple[float, int, float], ...] = ()

    @property
    def signal_macro_f1(self) -> float:
        return sum(self.signal_f1.values()) / len(self.signal_f1)


def labelled_prospects() -> list[ProspectRecord]:
    records = yaml.safe_load((DATA / "prospects.yaml").read_text(encoding="utf-8"))
    return assign_ids(ProspectRecord.model_validate(r) for r in records)


def labelled_items() -> list[dict]:
    with (DATA / "labelled.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def measure(tagger: ProspectTagger, items: list[dict]) -> Quality:
    results = tagger.tag_many([TagInput(i["title"], i["summary"]) for i in items])
    tp = fp = fn = 0
    per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    mistakes = []
    scored: list[tuple[float, bool]] = []
    for item, result in zip(items, results):
        got, gold = {m.prospect_id for m in result.mentions}, set(item["prospects"])
        scored.extend((m.score, m.prospect_id in gold) for m in result.mentions)
        tp, fp, fn = tp + len(got & gold), fp + len(got - gold), fn + len(gold - got)
        if got != gold:
            mistakes.append(f"{item['id']}: prospects {sorted(gold)} tagged {sorted(got)}: {item['title']}")
        found, wanted = {s.type for s in result.signals}, set(item["signals"])
        for kind in found | wanted:
            counts = per_type[kind]
            counts[0] += kind in found and kind in wanted
            counts[1] += kind in found and kind not in wanted
            counts[2] += kind in wanted and kind not in found
    f1 = {}
    for kind, (hit, extra, missed) in per_type.items():
        f1[kind] = 2 * hit / (2 * hit + extra + missed) if hit else 0.0
    bands = []
    for low, high in ((0.0, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, 0.85), (0.85, 1.0)):
        inside = [right for score, right in scored if low <= score < high]
        if inside:
            bands.append((low, len(inside), sum(inside) / len(inside)))
    return Quality(precision=tp / max(1, tp + fp), recall=tp / max(1, tp + fn), signal_f1=f1,
                   mistakes=tuple(mistakes), calibration=tuple(bands))

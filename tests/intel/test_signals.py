"""Trigger events: what happened, who did what to whom, which sales stages care, and YAML overrides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import spacy

from intel.config import ConfigError
from intel.settings import ProspectRecord, SignalsConfig
from intel.signals import stage_map
from intel.tagging import ProspectTagger, TagInput

ROOT = Path(__file__).resolve().parents[2]
PROSPECTS = [ProspectRecord(id="siemens", name="Siemens AG", aliases=["Siemens"]),
             ProspectRecord(id="accenture", name="Accenture plc", aliases=["Accenture"]),
             ProspectRecord(id="nvidia", name="NVIDIA Corporation", aliases=["Nvidia"])]


def signals_of(title: str, summary: str = "", config: SignalsConfig | None = None):
    tagger = ProspectTagger(PROSPECTS, spacy.blank("en"), signals=config)
    return tagger.tag(TagInput(title, summary)).signals


def roles(signals, kind: str) -> dict[str | None, str | None]:
    return {s.prospect_id: s.role for s in signals if s.type == kind}


def test_acquirer_and_target_are_told_apart_in_both_voices():
    assert roles(signals_of("Siemens to acquire Accenture's industrial unit"), "acquisition") == {
        "siemens": "acquirer", "accenture": "target"}
    assert roles(signals_of("Accenture acquired by Siemens in $9 billion deal"), "acquisition") == {
        "accenture": "target", "siemens": "acquirer"}


def test_investor_and_recipient_are_told_apart():
    found = signals_of("Accenture raises $50 million", "The round was led by Nvidia, with Siemens joining.")
    assert roles(found, "funding")["accenture"] == "recipient"
    assert roles(found, "funding")["nvidia"] == "investor"


def test_signals_carry_score_evidence_and_the_stages_they_help():
    layoffs = next(s for s in signals_of("Siemens to cut 3,000 jobs in Germany") if s.type == "layoffs")
    assert 0.5 <= layoffs.score < 1
    assert any("title: pattern 'cut 3,000 jobs'" in e for e in layoffs.evidence)
    assert "negotiating" in layoffs.stages and "prospecting" not in layoffs.stages
    stages = stage_map(SignalsConfig())
    assert set(stages) >= {"funding", "acquisition", "divestiture", "leadership_change", "hiring", "layoffs",
                           "expansion", "product_launch", "partnership", "contract_win", "earnings", "ipo",
                           "legal_or_distress", "security_incident", "tech_initiative"}
    assert "servicing" in stages["security_incident"]


def test_plain_news_without_an_event_has_no_signal():
    assert signals_of("What Siemens executives wore to the gala", "Photos from the annual evening.") == ()


def test_yaml_adds_a_type_extends_one_and_switches_one_off(write_config):
    config = write_config(signals={"types": {
        "sustainability": {"patterns": ["net-zero|carbon-neutral target|pledge|goal",
                                        {"pattern": "science-based targets", "weight": 0.7}],
                           "stages": ["prospecting"]},
        "layoffs": {"enabled": False},
        "hiring": {"keywords": ["talent acquisition"], "stages": ["qualifying"]},
    }})
    found = signals_of("Siemens sets net-zero target for 2030", "It also cut 3,000 jobs.", config.signals)
    assert {s.type for s in found} == {"sustainability"}
    assert found[0].stages == ("prospecting",)
    assert stage_map(config.signals)["hiring"] == ("qualifying",)


def test_a_broken_pattern_in_yaml_is_a_config_error(write_config):
    with pytest.raises(ConfigError, match="signals.types"):
        write_config(signals={"types": {"odd": {"patterns": ["~ ~?"]}}})


def test_intel_tag_prints_mentions_and_signals_per_input_line(write_config, tmp_path):
    write_config(prospects=[p.model_dump(exclude_none=True) for p in PROSPECTS])
    lines = [{"id": "a", "title": "Siemens to acquire Accenture's industrial unit"},
             {"id": "b", "title": "Weather", "text": "Sunny in the afternoon."},
             "not json"]
    stdin = "\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines) + "\n"
    run = subprocess.run([sys.executable, "-m", "intel.cli", "tag", "-", "--config", str(tmp_path / "intel.yaml")],
                         input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 1, run.stderr  # the bad line is reported, the good ones still answered
    out = [json.loads(line) for line in run.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", "b"]
    assert {m["prospect"] for m in out[0]["mentions"]} == {"siemens", "accenture"}
    assert all(m["evidence"] and 0 < m["score"] < 1 for m in out[0]["mentions"])
    acquisition = {s["prospect"]: s["role"] for s in out[0]["signals"] if s["type"] == "acquisition"}
    assert acquisition == {"siemens": "acquirer", "accenture": "target"}
    assert out[1] == {"id": "b", "mentions": [], "signals": []}
    assert ":3: not a JSON object" in run.stderr


def test_rules_tried_from_their_anchor_word_find_what_spacys_matcher_finds():
    # The fast path must not change a verdict: every built-in rule and a YAML-style rule with no
    # required word, over the labelled headlines and summaries, against a spaCy Matcher of the same rule.
    from spacy.matcher import Matcher

    from intel.signal_taxonomy import Rule
    from intel.signals import AnchoredRules, build_taxonomy, compile_pattern
    from tests.intel.quality import labelled_items

    nlp = spacy.blank("en")
    rules = {f"{t.name}#{n}": rule for t in build_taxonomy(SignalsConfig()) for n, rule in enumerate(t.rules)}
    rules["custom#0"] = Rule("#MONEY #NUM?")
    fast = AnchoredRules(nlp, rules)
    reference = Matcher(nlp.vocab)
    split = lambda word: [t.lower_ for t in nlp.tokenizer(word)]  # noqa: E731
    for key, rule in rules.items():
        reference.add(key, compile_pattern(rule.pattern, split))
    texts = [f"{i['title']}\n\n{i['summary']}" for i in labelled_items()]
    texts += ["Acme raised $ 40 million in funding", "Lay-offs hit 300 workers as the plant closes",
              "Beta Corp was taken over by Gamma; talks to acquire Delta continue"]
    compared = 0
    for doc in nlp.tokenizer.pipe(texts):
        expected = {(nlp.vocab.strings[m], s, e) for m, s, e in reference(doc)}
        assert set(fast(doc)[0]) == expected, doc.text
        compared += len(expected)
    assert compared > 1000


def test_signal_phrases_found_in_the_taggers_phrase_pass_give_what_the_detectors_own_pass_gives():
    # The tagger looks for the signal rules' words in the same phrase pass as the prospects' names
    # (one matcher over the doc, not two); the detector alone runs its own. Same signals either way,
    # with 1,000 prospects' names, keywords and exclude phrases sharing the index.
    from intel.tagging import _compose
    from tests.intel.quality import labelled_items, labelled_prospects

    nlp = spacy.blank("en")
    prospects = labelled_prospects() + [ProspectRecord(id=f"p{n}", name=f"Acme Round {n} Holdings",
                                                       keywords=["funding", "platform"], exclude=["series a"])
                                        for n in range(1000)]
    tagger = ProspectTagger(prospects, nlp)
    compared = 0
    for item in labelled_items():
        text, fields = _compose(TagInput(item["title"], item["summary"]))
        doc = nlp.make_doc(text)
        doc.user_data["text"] = text
        *_, found = tagger._phrase_hits(doc, fields)
        shared = tagger.signals.detect(doc, fields, [], found)
        assert shared == tagger.signals.detect(doc, fields, []), text
        compared += len(shared)
    assert compared > 300

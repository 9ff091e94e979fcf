"""POST /api/v1/tag gives the verdicts `intel tag` gives: same prospects, same `signals:` overrides.

The app is built from a config file the way `intel serve` builds it; the CLI
runs as a real process on the same file and the same input lines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import spacy
import yaml
from fastapi.testclient import TestClient

from intel.cli import _api_app, _api_settings, _prepare
from intel.config import load_config
from intel.tagging import ProspectTagger, TagInput

ROOT = Path(__file__).resolve().parents[2]
# Switch one built-in type off, add a type of our own, and move both score cut-offs off their defaults.
OVERRIDES = {
    "tagging": {"min_score": 0.4},
    "signals": {"min_score": 0.45, "types": {
        "layoffs": {"enabled": False},
        "sustainability": {"patterns": ["net-zero|carbon-neutral target|pledge|goal"], "stages": ["prospecting"]},
    }},
}
LINES = [
    {"id": "net-zero", "title": "Siemens AG sets net-zero target for 2030",
     "text": "The company also plans to cut 3,000 jobs in Germany."},
    {"id": "layoffs", "title": "Snowflake Inc. to cut 500 jobs", "text": "The data cloud company is restructuring."},
    {"id": "deal", "title": "Apple Inc. to acquire Snowflake in $20 billion deal",
     "text": "Tim Cook said the iPhone maker wants a data cloud."},
    {"id": "nothing", "title": "Weather", "text": "Sunny in the afternoon."},
]


def cli_tag(config_path: Path) -> dict[str, dict]:
    stdin = "".join(json.dumps(line) + "\n" for line in LINES)
    run = subprocess.run([sys.executable, "-m", "intel.cli", "tag", "-", "--config", str(config_path)],
                         input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=180,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    return {out["id"]: out for out in map(json.loads, run.stdout.splitlines())}


def api_tag(client: TestClient) -> dict[str, dict]:
    answers = {}
    for line in LINES:
        response = client.post("/api/v1/tag", json=line)
        assert response.status_code == 200, response.text
        answers[line["id"]] = response.json()
    return answers


def verdicts(answer: dict) -> dict:
    """What both outputs say about one text (the CLI adds stages, the API adds nothing the CLI lacks)."""
    return {"mentions": [(m["prospect"], m["score"], m["evidence"]) for m in answer["mentions"]],
            "signals": [(s["type"], s["score"], s.get("prospect"), s.get("role"), s["evidence"])
                        for s in answer["signals"]]}


def signal_types(answer: dict) -> set[str]:
    return {s["type"] for s in answer["signals"]}


def test_the_endpoint_and_intel_tag_agree_under_signals_overrides(write_config, tmp_path):
    config = write_config(auth={"required": False}, **OVERRIDES)
    config_path = tmp_path / "intel.yaml"
    with TestClient(_api_app(config, _prepare(config))) as client:
        over_http = api_tag(client)
    on_cli = cli_tag(config_path)

    assert {k: verdicts(v) for k, v in over_http.items()} == {k: verdicts(v) for k, v in on_cli.items()}
    # The overrides changed verdicts: the built-in taxonomy alone calls these layoffs, and has no sustainability.
    built_in = ProspectTagger(config.prospects, spacy.blank("en"), min_score=config.tagging.min_score)
    default_types = {line["id"]: {s.type for s in built_in.tag(TagInput(line["title"], line["text"])).signals}
                     for line in LINES}
    assert "layoffs" in default_types["net-zero"] and "sustainability" not in default_types["net-zero"]
    assert "layoffs" in default_types["layoffs"]
    assert signal_types(over_http["net-zero"]) == {"sustainability"}
    assert "layoffs" not in signal_types(over_http["layoffs"])
    assert "acquisition" in signal_types(over_http["deal"])
    assert {m["prospect"] for m in over_http["deal"]["mentions"]} == {"apple", "snowflake"}
    assert over_http["nothing"]["mentions"] == [] and over_http["nothing"]["signals"] == []


def test_a_reloaded_config_changes_the_endpoints_verdicts(write_config, tmp_path):
    """`intel run` swaps the API's settings when the config file changes; the tagger follows them."""
    config = write_config(auth={"required": False})
    app = _api_app(config, _prepare(config))
    with TestClient(app) as client:
        before = api_tag(client)
        assert "layoffs" in signal_types(before["layoffs"])
        config_path = tmp_path / "intel.yaml"
        document = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        config_path.write_text(yaml.safe_dump({**document, **OVERRIDES}, sort_keys=False), encoding="utf-8")
        app.state.settings = _api_settings(load_config(config_path))  # what the reload hook does
        after = api_tag(client)
    assert signal_types(after["net-zero"]) == {"sustainability"}
    assert "layoffs" not in signal_types(after["layoffs"])
    assert {k: verdicts(v) for k, v in after.items()} == {k: verdicts(v) for k, v in cli_tag(config_path).items()}

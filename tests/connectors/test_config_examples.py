"""Every example config loads; a bad source of any kind is reported at FILE:LINE:COL."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from intel.cli import app
from intel.config import load_config
from intel.settings import SOURCE_KINDS

EXAMPLES = sorted((Path(__file__).parents[2] / "config" / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_config_loads(path):
    config = load_config(path)
    assert config.sources


def test_the_examples_cover_every_source_kind():
    kinds = {source.kind for path in EXAMPLES for source in load_config(path).sources}
    assert kinds == set(SOURCE_KINDS)


BAD = """\
database: sqlite:///intel.db
sources:
  - id: newsroom
    kind: web
    url: https://acme.example/news
    selectors:
      item: "article["
      titel: h2
  - id: accounts
    kind: crm
    path: exports/*.csv
    preset: zoho
    mapping: {nmae: Account}
  - id: board
    kind: json
    url: https://boards.example/jobs
    fields: {title: "jobs[?"}
  - id: watch
    kind: web
    mode: change
    url: https://acme.example/careers
    selectors: {item: li}
  - {id: odd, kind: atom, url: "https://x.example/feed"}
"""


def test_intel_check_names_file_line_column_and_field_for_bad_sources(tmp_path):
    path = tmp_path / "intel.yaml"
    path.write_text(BAD)
    result = CliRunner().invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    expected = [
        f"{path}:7:7: sources.0.selectors.item: not a CSS selector",
        f"{path}:8:7: sources.0.selectors.titel: unknown key 'titel' (check the spelling)",
        f"{path}:12:5: sources.1.preset: Input should be 'salesforce', 'hubspot' or 'pipedrive'",
        f"{path}:13:15: sources.1.mapping.nmae: Input should be 'id', 'name'",
        f"{path}:17:14: sources.2.fields.title: not a JMESPath expression",
        f"{path}:18:5: sources.3: change mode takes 'main', not 'selectors' or 'fulltext'",
        f"{path}:23:15: sources.4.kind: unknown source kind 'atom'; use one of rss, web, json, crm, discover",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, result.output)

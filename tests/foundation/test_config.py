"""Config loading: every problem named by file, line and field; nothing started on errors."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from intel.cli import app
from intel.config import ConfigError, load_config

runner = CliRunner()


def write(tmp_path, text: str, name: str = "intel.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def test_unknown_key_is_an_error_with_file_line_and_field(tmp_path):
    path = write(tmp_path, "database: sqlite:///x.db\nsources:\n  - id: news\n    kind: rss\n"
                           "    url: https://example.com/feed.xml\n    evry: 30m\n")
    assert problems_of(path) == [f"{path}:6:5: sources.0.evry: unknown key 'evry' (check the spelling)"]


def test_bad_values_are_all_reported_at_their_lines(tmp_path):
    path = write(tmp_path, "\n".join([
        "prospects:",
        "  - name: Acme",
        "    stage: maybe",
        "  - aliases: [x]",
        "sources:",
        "  - {id: a, kind: rss, url: 'ftp://example.com/x', every: soon}",
    ]) + "\n")
    found = problems_of(path)
    assert any(p.startswith(f"{path}:3:5: prospects.0.stage:") for p in found), found
    assert any(p.startswith(f"{path}:4:5: prospects.1.name: required key 'name' is missing") for p in found), found
    assert any(":6:" in p and "sources.0.url" in p and "http" in p for p in found), found
    assert any(":6:" in p and "sources.0.every" in p and "not a duration" in p for p in found), found


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "sources:\n  - id: a\n   kind: rss\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:3:") and "invalid YAML" in problem


def test_errors_in_prospect_files_name_that_file(tmp_path):
    write(tmp_path, "- name: Good Co\n- name: Bad Co\n  domains: [not a domain]\n", "prospects.yaml")
    path = write(tmp_path, "prospect_files: [prospects.yaml]\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{tmp_path / 'prospects.yaml'}:3:3: 1.domains: not a domain")


def test_env_interpolation_and_relative_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("FEED_HOST", "feeds.example.com")
    (tmp_path / "feeds").mkdir()
    path = write(tmp_path, "database: sqlite:///var/x.db\nsources:\n"
                           "  - {id: a, kind: rss, url: 'https://${FEED_HOST}/a.xml'}\n"
                           "  - {id: b, kind: rss, url: 'file:feeds/b.xml'}\n"
                           "  - {id: c, kind: rss, url: 'https://${MISSING_VAR:-fallback.example.com}/c'}\n")
    config = load_config(path)
    assert config.sources[0].url == "https://feeds.example.com/a.xml"
    assert config.sources[1].url == (tmp_path / "feeds" / "b.xml").as_uri()
    assert config.sources[2].url == "https://fallback.example.com/c"
    assert config.database == f"sqlite:///{tmp_path / 'var' / 'x.db'}"


def test_missing_env_var_is_reported_at_its_field(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    path = write(tmp_path, "sources:\n  - {id: a, kind: rss, url: 'https://x.example.com/?k=${NOPE_TOKEN}'}\n")
    [problem] = problems_of(path)
    assert "sources.0.url" in problem and "NOPE_TOKEN is not set" in problem


def test_prospect_ids_are_generated_from_names_without_legal_suffix(tmp_path):
    path = write(tmp_path, "prospects:\n  - name: Oracle Corporation\n  - name: Siemens AG\n"
                           "  - {id: oracle, name: Other Oracle}\n")
    ids = [p.id for p in load_config(path).prospects]
    assert ids == ["oracle-2", "siemens", "oracle"]


def test_duplicate_source_ids_are_errors(tmp_path):
    path = write(tmp_path, "sources:\n  - {id: a, kind: rss, url: 'https://x.example.com/1'}\n"
                           "  - {id: a, kind: rss, url: 'https://x.example.com/2'}\n")
    [problem] = problems_of(path)
    assert ":3:" in problem and "used twice" in problem


def test_intel_check_exits_2_and_prints_locations(tmp_path):
    path = write(tmp_path, "servr: {port: 1}\n")
    result = runner.invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 2
    assert f"{path}:1:1: servr: unknown key 'servr'" in result.output


def test_intel_fetch_refuses_to_start_on_a_bad_config(tmp_path):
    path = write(tmp_path, f"database: sqlite:///{tmp_path}/db.sqlite\nsources: [{{id: x, kind: nope, url: 'https://a.example'}}]\n")
    result = runner.invoke(app, ["fetch", "--config", str(path)])
    assert result.exit_code == 2
    assert not (tmp_path / "db.sqlite").exists()  # nothing was started, not even the database


def test_bundled_demo_config_is_valid():
    config = load_config("config/intel.yaml")
    assert config.sources and len(config.prospects) >= 10
    assert all(s.url.startswith("file://") for s in config.sources)

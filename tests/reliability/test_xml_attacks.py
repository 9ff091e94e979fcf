"""XML attacks on web pages and XLSX CRM exports, through real worker runs.

Billion laughs, quadratic blowup, external entities (file:///etc/passwd and an
http:// URL on the loopback server, which records every request), parameter
entities pulling a DTD, and DOCTYPEs in odd places: in an HTML page, in XHTML
served as application/xhtml+xml or application/xml (parsel would hand those to
its XML parser), in an article page read for full text, and in the sheet,
shared-strings and workbook parts of an XLSX built by hand with zipfile.

For each: the run ends in bounded time and memory, nothing is read or fetched
(no /etc/passwd line in anything stored, the entity URL never requested), the
hostile source fails with a reason or its content is stored as inert text,
and a good feed in the same tick ingests as if nothing happened.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import select

from connectors.crm import MAX_XLSX_UNPACKED_BYTES
from connectors.discover import advertised_feeds
from models.tables import Item, Prospect
from tests.conftest import start_pipeline
from tests.reliability.conftest import (GOOD_ITEMS, TIGHT_HTTP, finishes, health, item_count, rss_growth,
                                        serve_good_feed)
from tests.reliability.test_hostile_feeds import assert_good_feed_unaffected, warm_up

MEMORY_BUDGET_MB = 150
PASSWD_LINES = [line for line in Path("/etc/passwd").read_text().splitlines() if line.strip()]
SECRET = "TOP SECRET loopback answer"
ATTACKS = ["billion_laughs", "quadratic_blowup", "file_entity", "http_entity", "parameter_entity"]


# --- hostile DOCTYPEs and where they point ---------------------------------------------------

class Traps:
    """The loopback URLs an attack may try to read; the server records whether anything asked."""

    def __init__(self, server) -> None:
        self.server = server
        self.secret_url = server.serve("/secret.txt", SECRET)
        self.dtd_url = server.serve("/evil.dtd", f'<!ENTITY leak SYSTEM "{self.secret_url}">')

    def doctype(self, attack: str, root: str) -> tuple[str, str]:
        """A DOCTYPE with the attack's declarations, and the entity reference that sets it off."""
        if attack == "billion_laughs":
            levels = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
            return f'<!DOCTYPE {root} [<!ENTITY lol0 "lol">{levels}]>', "&lol9;"
        if attack == "quadratic_blowup":  # no nesting: one 100 kB entity referenced 20,000 times (2 GB)
            return f'<!DOCTYPE {root} [<!ENTITY big "{"x" * 100_000}">]>', "&big;" * 20_000
        if attack == "file_entity":
            return f'<!DOCTYPE {root} [<!ENTITY leak SYSTEM "file:///etc/passwd">]>', "&leak;"
        if attack == "http_entity":
            return f'<!DOCTYPE {root} [<!ENTITY leak SYSTEM "{self.secret_url}">]>', "&leak;"
        assert attack == "parameter_entity"
        return f'<!DOCTYPE {root} [<!ENTITY % remote SYSTEM "{self.dtd_url}"> %remote;]>', "&leak;"

    def untouched(self) -> bool:
        return self.server.requests_to("/secret.txt") == [] and self.server.requests_to("/evil.dtd") == []


def stored_text(sessions) -> str:
    """Everything a reader could ever be shown: items and prospect records."""
    with sessions() as session:
        items = [f"{i.title}\n{i.summary}\n{i.content}\n{i.url}" for i in session.scalars(select(Item))]
        prospects = [f"{p.name} {p.aliases} {p.domains} {p.people} {p.owners} {p.industry}"
                     for p in session.scalars(select(Prospect))]
    return "\n".join(items + prospects)


def assert_nothing_leaked(pipeline, traps: Traps) -> None:
    text = stored_text(pipeline.sessions)
    assert not any(line in text for line in PASSWD_LINES) and "root:x:0:0" not in text
    assert SECRET not in text
    assert traps.untouched()


def run_beside_good_feed(feed_server, write_config, database_url, hostile: dict, tmp_path=None):
    config = write_config([hostile, serve_good_feed(feed_server)], database=database_url, http=TIGHT_HTTP)
    pipeline, worker = start_pipeline(config)
    warm_up(pipeline)
    with rss_growth() as memory:
        outcomes = finishes(worker.tick, within=60)
    return pipeline, {o.source_id: o for o in outcomes}, memory


# --- web pages ----------------------------------------------------------------------------

PAGE_FLAVOURS = {
    # name: (XML declaration, <html> attributes, Content-Type)
    "html": ("", "", "text/html; charset=utf-8"),
    "xhtml": ('<?xml version="1.0" encoding="utf-8"?>', ' xmlns="http://www.w3.org/1999/xhtml"',
              "application/xhtml+xml"),
    "xml": ('<?xml version="1.0" encoding="utf-8"?>', "", "application/xml"),
}


def newsroom(flavour: str, doctype: str = "", reference: str = "") -> str:
    """An index page listing two releases; the entity reference sits in text, an attribute and the body."""
    declaration, attributes, _ = PAGE_FLAVOURS[flavour]
    return (f"{declaration}{doctype}<html{attributes}><head><title>Newsroom {reference}</title></head><body>"
            f'<ul><li class="release"><a href="/press/one?x={reference}">Siemens AG news {reference} one</a></li>'
            '<li class="release"><a href="/press/two">Siemens AG opens a plant</a></li></ul>'
            f"<main><p>{reference}</p></main></body></html>")


def web_source(url: str, **extra) -> dict:
    return {"id": "hostile", "kind": "web", "url": url, "selectors": {"item": "li.release", "title": "a"}, **extra}


@pytest.mark.parametrize("flavour", list(PAGE_FLAVOURS))
@pytest.mark.parametrize("attack", ATTACKS)
def test_entity_tricks_in_a_web_page_are_refused_and_nothing_is_read_or_fetched(feed_server, write_config,
                                                                                sqlite_url, attack, flavour):
    traps = Traps(feed_server)
    doctype, reference = traps.doctype(attack, "html")
    url = feed_server.serve("/newsroom", newsroom(flavour, doctype, reference),
                            Content_Type=PAGE_FLAVOURS[flavour][2])
    pipeline, outcomes, memory = run_beside_good_feed(feed_server, write_config, sqlite_url, web_source(url))

    assert outcomes["hostile"].status == "failed"
    assert "internal subset" in outcomes["hostile"].error and "refused" in outcomes["hostile"].error
    assert health(pipeline.sessions)["hostile"]["last_error"] == outcomes["hostile"].error
    assert item_count(pipeline.sessions, Item.source_id == "hostile") == 0
    assert memory.growth_mb < MEMORY_BUDGET_MB
    assert_nothing_leaked(pipeline, traps)
    assert_good_feed_unaffected(pipeline, outcomes)


@pytest.mark.parametrize("attack", ["billion_laughs", "file_entity", "http_entity"])
def test_a_watched_page_with_entity_tricks_fails_with_a_reason(feed_server, write_config, sqlite_url, attack):
    traps = Traps(feed_server)
    doctype, reference = traps.doctype(attack, "html")
    url = feed_server.serve("/careers", newsroom("xhtml", doctype, reference),
                            Content_Type="application/xhtml+xml")
    pipeline, outcomes, _ = run_beside_good_feed(feed_server, write_config, sqlite_url,
                                                 {"id": "hostile", "kind": "web", "mode": "change", "url": url})
    assert outcomes["hostile"].status == "failed" and "internal subset" in outcomes["hostile"].error
    assert_nothing_leaked(pipeline, traps)
    assert_good_feed_unaffected(pipeline, outcomes)


@pytest.mark.parametrize("flavour", ["xhtml", "xml"])
def test_xhtml_with_an_xml_declaration_and_an_external_dtd_is_read_as_html(feed_server, write_config, sqlite_url,
                                                                           flavour):
    """Legal XHTML naming an external DTD: both releases ingested, the DTD never fetched.

    Parsed as XML, the namespaced elements matched no selector and the source
    failed as if the page layout had changed.
    """
    traps = Traps(feed_server)
    doctype = f'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "{traps.dtd_url}">'
    url = feed_server.serve("/newsroom", newsroom(flavour, doctype), Content_Type=PAGE_FLAVOURS[flavour][2])
    pipeline, outcomes, _ = run_beside_good_feed(feed_server, write_config, sqlite_url, web_source(url))
    assert outcomes["hostile"].status == "ok", outcomes["hostile"].error
    with pipeline.sessions() as session:
        titles = set(session.scalars(select(Item.title).where(Item.source_id == "hostile")))
    assert titles == {"Siemens AG news one", "Siemens AG opens a plant"}
    assert_nothing_leaked(pipeline, traps)
    assert_good_feed_unaffected(pipeline, outcomes)


def test_entity_references_without_a_usable_declaration_are_stored_as_inert_text(feed_server, write_config,
                                                                                 sqlite_url):
    """A DOCTYPE hidden behind a decoy, and references nothing declares: the HTML parser keeps them text."""
    traps = Traps(feed_server)
    doctype, _ = traps.doctype("file_entity", "html")
    page = "<!-- <!DOCTYPE decoy> -->" + newsroom("xhtml", doctype, "&leak;").replace(
        '<?xml version="1.0" encoding="utf-8"?>', "")
    url = feed_server.serve("/newsroom", page, Content_Type="application/xhtml+xml")
    pipeline, outcomes, _ = run_beside_good_feed(feed_server, write_config, sqlite_url, web_source(url))
    assert outcomes["hostile"].status == "ok", outcomes["hostile"].error
    with pipeline.sessions() as session:
        titles = set(session.scalars(select(Item.title).where(Item.source_id == "hostile")))
    assert "Siemens AG news &leak; one" in titles  # the reference as written, never its target
    assert_nothing_leaked(pipeline, traps)
    assert_good_feed_unaffected(pipeline, outcomes)


@pytest.mark.parametrize("attack", ["billion_laughs", "file_entity", "http_entity", "parameter_entity"])
def test_an_article_page_with_entity_tricks_gives_no_full_text_and_the_entry_stays(feed_server, write_config,
                                                                                  sqlite_url, attack):
    traps = Traps(feed_server)
    doctype, reference = traps.doctype(attack, "html")
    feed_server.serve("/press/one", newsroom("xhtml", doctype, f"<p>Siemens AG said {reference} today.</p>" * 3),
                      Content_Type="application/xhtml+xml")
    feed_server.serve("/press/two", "<html><body><article><p>Siemens AG opens a plant in Texas, hiring 500 "
                                    "people over two years.</p></article></body></html>")
    index = feed_server.serve("/newsroom", newsroom("html").replace("?x=", ""))
    pipeline, outcomes, _ = run_beside_good_feed(feed_server, write_config, sqlite_url,
                                                 web_source(index, fulltext=True))
    assert outcomes["hostile"].status == "ok", outcomes["hostile"].error
    with pipeline.sessions() as session:
        stored = {i.title: i for i in session.scalars(select(Item).where(Item.source_id == "hostile"))}
    assert set(stored) == {"Siemens AG news one", "Siemens AG opens a plant"}
    assert stored["Siemens AG news one"].content == ""  # the hostile article gave nothing
    assert "hiring 500" in stored["Siemens AG opens a plant"].content
    assert_nothing_leaked(pipeline, traps)
    assert_good_feed_unaffected(pipeline, outcomes)


def test_feed_discovery_reads_xhtml_with_an_xml_declaration(feed_server):
    page = newsroom("xhtml").replace(
        "<head>", '<head><link rel="alternate" type="application/rss+xml" href="/feed.xml"/>')
    assert advertised_feeds(page, "https://news.example.com/") == ["https://news.example.com/feed.xml"]


# --- XLSX CRM exports ----------------------------------------------------------------------

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
ACCOUNTS = [["Account Name", "Account Owner", "Website", "Industry", "Type"],
            ["Acme Corporation", "Alice Smith", "acme.example", "Aerospace", "Prospect"],
            ["Globex Inc.", "Bob Jones", "globex.example", "Energy", "Customer"]]
NOTES = [["Subject", "Comments", "Date", "Assigned", "Company / Account", "Activity ID"],
         ["Call with CFO", "Budget approved for Q3.", "2026-10-01", "Alice Smith", "Siemens AG", "00T1"]]


def xlsx(rows: list[list[str]], *, doctype_in: str | None = None, doctype: str = "", reference: str = "",
         utf16_strings: bool = False) -> bytes:
    """A one-sheet workbook zipped by hand, so any part can carry a DOCTYPE and an entity reference.

    Strings go to xl/sharedStrings.xml; the first data row's second cell is an
    inline string in the sheet, so both parts hold text a reference can sit in.
    """
    strings: list[str] = []
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{'ABCDEFGH'[c]}{r}"
            if r == 2 and c == 1:
                text = escape(value) + (reference if doctype_in == "sheet" else "")
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')
                continue
            text = escape(value) + (reference if doctype_in == "sharedStrings" and r == 2 and c == 0 else "")
            strings.append(text)
            cells.append(f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>')
        sheet_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    sheet_name = "Accounts" + (reference if doctype_in == "workbook" else "")

    def part(name: str, body: str) -> str:
        return XML_DECLARATION + (doctype if doctype_in == name else "") + body

    shared = part("sharedStrings", f'<sst xmlns="{MAIN_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">'
                                   + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>")
    parts = {
        "[Content_Types].xml": XML_DECLARATION + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sharedStrings+xml"/></Types>'),
        "_rels/.rels": XML_DECLARATION + (
            f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" Type="{REL_NS}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": part("workbook", f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>'
                                            f'<sheet name="{sheet_name}" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": XML_DECLARATION + (
            f'<Relationships xmlns="{PKG_REL_NS}">'
            f'<Relationship Id="rId1" Type="{REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": part("sheet", f'<worksheet xmlns="{MAIN_NS}"><sheetData>{"".join(sheet_rows)}'
                                                  "</sheetData></worksheet>"),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text.encode("utf-8"))
        if utf16_strings:
            archive.writestr("xl/sharedStrings.xml",
                             shared.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"))
        else:
            archive.writestr("xl/sharedStrings.xml", shared.encode("utf-8"))
    return out.getvalue()


def crm_source(records: str = "accounts") -> dict:
    return {"id": "hostile", "kind": "crm", "path": "export.xlsx", "preset": "salesforce", "records": records}


def crm_prospects(pipeline) -> set[str]:
    with pipeline.sessions() as session:
        return set(session.scalars(select(Prospect.name).where(Prospect.origin != "config")))


@pytest.mark.parametrize("utf16", [False, True], ids=["utf-8", "utf-16-shared-strings"])
def test_a_hand_built_workbook_imports(feed_server, write_config, sqlite_url, tmp_path, utf16):
    """The builder makes a workbook openpyxl reads, so the refusals below are about the DOCTYPEs."""
    (tmp_path / "export.xlsx").write_bytes(xlsx(ACCOUNTS, utf16_strings=utf16))
    pipeline, outcomes, _ = run_beside_good_feed(feed_server, write_config, sqlite_url, crm_source())
    assert outcomes["hostile"].status == "ok", outcomes["hostile"].error
    assert crm_prospects(pipeline) == {"Acme Corporation", "Globex Inc."}
    assert_good_feed_unaffected(pipeline, outcomes)


@pytest.mark.parametrize("where", ["sheet", "sharedStrings", "workbook"])
@pytest.mark.parametrize("attack", ATTACKS)
def test_entity_tricks_in_any_xlsx_part_are_refused_and_nothing_is_read_or_fetched(
        feed_server, write_config, sqlite_url, tmp_path, attack, where):
    traps = Traps(feed_server)
    doctype, reference = traps.doctype(attack, {"sheet": "worksheet", "sharedStrings": "sst"}.get(where, where))
    (tmp_path / "export.xlsx").write_bytes(xlsx(ACCOUNTS, doctype_in=where, doctype=doctype, reference=reference))
    pipeline, outcomes, memory = run_beside_good_feed(feed_server, write_config, sqlite_url, crm_source())

    part = {"sheet": "xl/worksheets/sheet1.xml", "sharedStrings": "xl/sharedStrings.xml",
            "workbook": "xl/workbook.xml"}[where]
    assert outcomes["hostile"].status == "failed"
    assert f"export.xlsx: {part} has a DOCTYPE" in outcomes["hostile"].error
    assert "refused" in outcomes["hostile"].error
    assert health(pipeline.sessions)["hostile"]["last_error"] == outcomes["hostile"].error
    assert crm_prospects(pipeline) == set()  # not one row of the export
    assert memory.growth_mb < MEMORY_BUDGET_MB
    assert_nothing_leaked(pipeline, traps)
    assert_good_feed_unaffected(pipeline, outcomes)


@pytest.mark.parametrize("attack", ["file_entity", "http_entity"])
def test_a_notes_export_with_external_entities_stores_no_internal_item(feed_server, write_config, sqlite_url,
                                                                        tmp_path, attack):
    traps = Traps(feed_server)
    doctype, reference = traps.doctype(attack, "sst")
    (tmp_path / "export.xlsx").write_bytes(xlsx(NOTES, doctype_in="sharedStrings", doctype=doctype,
                                                reference=reference))
    pipeline, outcomes, _ = run_beside_good_feed(feed_server, write_config, sqlite_url, crm_source("activities"))
    assert outcomes["hostile"].status == "failed" and "has a DOCTYPE" in outcomes["hostile"].error
    assert item_count(pipeline.sessions, Item.source_id == "hostile") == 0
    assert_nothing_leaked(pipeline, traps)
    assert_good_feed_unaffected(pipeline, outcomes)


def test_an_xlsx_zip_bomb_is_refused_before_anything_unpacks(feed_server, write_config, sqlite_url, tmp_path):
    """One shared string padded past the unpacked cap: a few MB on disk, refused from the zip directory.

    Unpacked, openpyxl would hold that one 512 MB string in memory (and the
    pipeline copies of it).
    """
    clean = zipfile.ZipFile(io.BytesIO(xlsx(ACCOUNTS)))
    with zipfile.ZipFile(tmp_path / "export.xlsx", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bomb:
        for info in clean.infolist():
            if info.filename != "xl/sharedStrings.xml":
                bomb.writestr(info.filename, clean.read(info))
        head, tail = clean.read("xl/sharedStrings.xml").rsplit(b"</t>", 1)
        with bomb.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(head)
            padding = b"A" * 2 ** 20
            for _ in range(MAX_XLSX_UNPACKED_BYTES // len(padding) + 1):
                part.write(padding)
            part.write(b"</t>" + tail)
    assert (tmp_path / "export.xlsx").stat().st_size < 4 * 2 ** 20
    pipeline, outcomes, memory = run_beside_good_feed(feed_server, write_config, sqlite_url, crm_source())
    assert outcomes["hostile"].status == "failed"
    assert "export.xlsx unpacks to" in outcomes["hostile"].error and "refused" in outcomes["hostile"].error
    assert crm_prospects(pipeline) == set()
    assert memory.growth_mb < MEMORY_BUDGET_MB
    assert_good_feed_unaffected(pipeline, outcomes)


def test_the_export_is_accepted_again_once_it_is_clean(feed_server, write_config, sqlite_url, tmp_path):
    """A refusal is one failed run, not a stuck source: the next clean export imports."""
    traps = Traps(feed_server)
    doctype, reference = traps.doctype("file_entity", "sst")
    export = tmp_path / "export.xlsx"
    export.write_bytes(xlsx(ACCOUNTS, doctype_in="sharedStrings", doctype=doctype, reference=reference))
    config = write_config([crm_source(), serve_good_feed(feed_server)], database=sqlite_url, http=TIGHT_HTTP)
    pipeline, worker = start_pipeline(config)
    first = {o.source_id: o for o in worker.tick()}
    assert first["hostile"].status == "failed"
    export.write_bytes(xlsx(ACCOUNTS))
    [again] = worker.tick(only="hostile")
    assert again.status == "ok", again.error
    assert crm_prospects(pipeline) == {"Acme Corporation", "Globex Inc."}
    assert item_count(pipeline.sessions, Item.source_id == "good") == len(GOOD_ITEMS)
    assert_nothing_leaked(pipeline, traps)

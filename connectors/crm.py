"""CRM exports (`kind: crm`): CSV, JSON or XLSX from a file, a drop-folder glob or a URL.

Accounts map onto the prospect record (the pipeline upserts them as
prospects); activity and note exports become *internal* items attached to
their account's prospect. A malformed row is reported with its file and row
number and skipped; every other row is imported. Cell values that a
spreadsheet would run as formulas (`=HYPERLINK(...)`) are kept as inert text.
"""

from __future__ import annotations

import codecs
import csv
import glob
import hashlib
import html
import io
import json
import os
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping
from urllib.parse import urlsplit
from xml.parsers.expat import ExpatError, ParserCreate

import jmespath

from connectors.base import AccountRow, FetchError, FetchResult, ParseError, RawItem, SourceSpec
from connectors.crm_presets import ACCOUNT_COLUMNS, ACTIVITY_COLUMNS, STAGE_NAMES
from connectors.dates import parse_date
from connectors.http import PoliteClient

# Exports are big and come from config, not from the open web: a roomier cap than pages.
MAX_EXPORT_BYTES = 512 * 1024 * 1024
# What an XLSX may unpack to: openpyxl holds the shared strings in memory, and a zip bomb (1,000:1 and
# more) would otherwise get there from a small file. ~1M rows fit; bigger sets come as CSV.
MAX_XLSX_UNPACKED_BYTES = 512 * 1024 * 1024
MAX_REPORTED_PROBLEMS = 100
DELIMITERS = ",;\t|"
_DOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")
# scheme://user@host:port/... -> host (urlsplit is several times slower, and 100k rows add up)
_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/?#]*@)?([^/:?#\s]+)")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# What exports that are not UTF-8 come in: Windows code pages, then East Asian and Cyrillic ones.
EXPORT_ENCODINGS = ("cp1252", "cp1250", "cp1251", "cp1253", "cp1254", "cp1257", "iso8859_15", "mac_roman",
                    "shift_jis", "euc_jp", "gb18030", "big5", "euc_kr", "koi8_r")

# rows read so far, rows expected (None: unknown)
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Export:
    name: str  # the file name or URL problems are reported against
    data: bytes
    format: str  # csv | json | xlsx
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    final_url: str | None = None


@dataclass
class Table:
    columns: list[str]
    rows: Iterator[tuple[int, dict[str, Any]]]  # (row number in the file, value by column)
    total: int | None
    problems: list[str]


class CrmConnector:
    kind = "crm"

    def __init__(self, client: PoliteClient, progress: Progress | None = None) -> None:
        self.client = client
        self.progress = progress

    def fetch(self, spec: SourceSpec) -> FetchResult:
        settings = spec.settings
        export = self._retrieve(spec)
        if export is None:
            return FetchResult(not_modified=True, etag=spec.etag, last_modified=spec.last_modified)
        table = read_table(export, settings)
        records = settings.get("records", "accounts")
        columns = resolve_columns(table.columns, settings, records)
        common = dict(http_status=export.http_status, etag=export.etag, last_modified=export.last_modified,
                      bytes_read=len(export.data), final_url=export.final_url)
        if records == "accounts":
            accounts = tuple(self._accounts(export, table, columns, settings))
            return FetchResult(accounts=accounts, warnings=_summarized(table.problems), **common)
        items = tuple(self._activities(export, table, columns, spec))
        return FetchResult(items=items, warnings=_summarized(table.problems), **common)

    # --- where the export comes from -------------------------------------------------------

    def _retrieve(self, spec: SourceSpec) -> Export | None:
        settings = spec.settings
        pattern = settings.get("path")
        if pattern:
            path = newest_file(pattern)
            stat = path.stat()
            if stat.st_size > MAX_EXPORT_BYTES:
                raise FetchError(f"{path} is larger than {MAX_EXPORT_BYTES} bytes")
            validator = f"{path}|{stat.st_mtime_ns}|{stat.st_size}"
            if validator == spec.last_modified:
                return None
            data = path.read_bytes()
            return Export(path.name, data, _format(settings, path.name, data), last_modified=validator)
        response = self.client.get(spec, max_bytes=MAX_EXPORT_BYTES)
        if response.not_modified:
            return None
        name = urlsplit(response.url).path.rsplit("/", 1)[-1] or response.url
        return Export(response.url, response.body, _format(settings, name, response.body, response.content_type),
                      http_status=response.status, etag=response.headers.get("etag"),
                      last_modified=response.headers.get("last-modified"), final_url=response.permanent_url)

    # --- rows to records -------------------------------------------------------------------

    def _accounts(self, export: Export, table: Table, columns: Mapping[str, list[str]],
                  settings: Mapping[str, Any]) -> Iterator[AccountRow]:
        stages = {k.lower(): v for k, v in STAGE_NAMES.get(settings.get("preset") or "", {}).items()}
        stages.update({k.strip().lower(): v for k, v in (settings.get("stage_map") or {}).items()})
        unmapped: Counter[str] = Counter()
        for count, (number, row) in enumerate(table.rows, start=1):
            self._report(count, table.total)
            where = f"{export.name}:{number}"
            values = {name: [_cell(row.get(c)) for c in cols] for name, cols in columns.items()}
            name = _first(values.get("name"))
            if not name:
                table.problems.append(f"{where}: no account name (row skipped)")
                continue
            fields: dict[str, Any] = {"name": name}
            if _first(values.get("id")):
                fields["id"] = _first(values["id"])
            domains = []
            for value in values.get("domains", []):
                for part in _split(value, r"[,;|]+"):
                    domain = domain_of(part)
                    if domain is None:
                        table.problems.append(f"{where}: {part!r} is not a website or domain (row kept "
                                              "without it)")
                    elif domain not in domains:
                        domains.append(domain)
            fields["domains"] = domains
            for list_field in ("owner", "aliases", "people"):
                fields[list_field] = [v for value in values.get(list_field, []) for v in _split(value, r"[;\n]+")]
            industry = _first(values.get("industry"))
            fields["industry"] = industry or None
            crm_stage = _first(values.get("stage"))
            fields["stage"] = stages.get(crm_stage.lower()) if crm_stage else None
            if crm_stage and fields["stage"] is None:
                unmapped[crm_stage] += 1
            yield AccountRow(file=export.name, row=number, fields=fields)
        self._report(None, table.total)
        for stage, rows in unmapped.most_common():
            table.problems.append(f"{export.name}: stage {stage!r} ({rows} row(s)) matches no sales stage, "
                                  "so those accounts have none (add it to stage_map)")

    def _activities(self, export: Export, table: Table, columns: Mapping[str, list[str]],
                    spec: SourceSpec) -> Iterator[RawItem]:
        for count, (number, row) in enumerate(table.rows, start=1):
            self._report(count, table.total)
            values = {name: _first([_cell(row.get(c)) for c in cols]) for name, cols in columns.items()}
            account = values.get("account")
            if not account:
                table.problems.append(f"{export.name}:{number}: no account or organization (row skipped)")
                continue
            subject, body = values.get("subject", ""), values.get("body", "")
            title = subject or (body[:80].rsplit(" ", 1)[0] + " …" if len(body) > 80 else body) \
                or f"Note on {account}"
            when = parse_date(row.get(columns["date"][0])) if columns.get("date") else None
            identity = values.get("id") or hashlib.sha256(
                "\0".join((account, subject, body, when.isoformat() if when else "")).encode()).hexdigest()[:24]
            yield RawItem(title=title, summary=html.escape(body), author=values.get("author") or None,
                          published_at=when, guid=f"crm:{spec.id}:{identity}",
                          visibility="internal", prospect_hint=account)
        self._report(None, table.total)

    def _report(self, count: int | None, total: int | None) -> None:
        if self.progress is not None and (count is None or count % 1000 == 0):
            self.progress(count if count is not None else (total or 0), total)


# --- finding, decoding and reading the export ---------------------------------------------

def newest_file(pattern: str) -> Path:
    """The most recently modified file matching `pattern` (a path or a glob): a drop folder."""
    matches = [Path(p) for p in glob.glob(pattern) if os.path.isfile(p)]
    if not matches:
        raise FetchError(f"no file matches {pattern}")
    return max(matches, key=lambda p: (p.stat().st_mtime_ns, p.name))


def _format(settings: Mapping[str, Any], name: str, data: bytes, content_type: str = "") -> str:
    chosen = settings.get("format", "auto")
    if chosen != "auto":
        return chosen
    suffix = Path(name.lower()).suffix
    if suffix in (".xlsx", ".xlsm") or "spreadsheetml" in content_type or data[:4] == b"PK\x03\x04":
        return "xlsx"
    if suffix == ".json" or "json" in content_type or data.lstrip(b"\xef\xbb\xbf \r\n\t")[:1] in (b"[", b"{"):
        return "json"
    return "csv"


def read_table(export: Export, settings: Mapping[str, Any]) -> Table:
    if export.format == "xlsx":
        return _xlsx_table(export, settings.get("sheet"))
    if export.format == "json":
        return _json_table(export, settings.get("json_records", "@"))
    return _csv_table(export, settings.get("encoding"), settings.get("delimiter"))


def decode_text(data: bytes, encoding: str | None = None) -> str:
    """Text of a CSV export: the configured encoding, else its BOM, else UTF-8, else a detected one."""
    if encoding:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"the export is not {encoding}: {exc}") from exc
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode(_detected_encoding(data), errors="replace")


def _detected_encoding(data: bytes) -> str:
    """What a non-UTF-8 export is in, among the encodings spreadsheets and CRMs write.

    Windows-1252 is what Excel writes in most of the world, so it wins every tie.
    """
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data[:1024 * 1024], cp_isolation=list(EXPORT_ENCODINGS)))
    if not matches:
        return "cp1252"
    best = min(matches, key=lambda m: m.chaos)
    if any(m.encoding == "cp1252" and m.chaos <= best.chaos for m in matches):
        return "cp1252"
    return best.encoding


def sniff_delimiter(header_line: str) -> str:
    """The delimiter the header row uses most (exports have no commas in column names)."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_table(export: Export, encoding: str | None, delimiter: str | None) -> Table:
    text = decode_text(export.data, encoding)
    first_line = text.split("\n", 1)[0]
    delimiter = delimiter or sniff_delimiter(first_line)
    problems: list[str] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ParseError(f"{export.name} is empty") from None
    columns = [c.strip() for c in header]

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                problems.append(f"{export.name}:{reader.line_num}: unreadable CSV ({exc}) (stopped reading here)")
                return
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(columns) and not any(c.strip() for c in cells[len(columns):]):
                cells = cells[:len(columns)]
            if len(cells) != len(columns):
                problems.append(f"{export.name}:{reader.line_num}: {len(cells)} fields where the header has "
                                f"{len(columns)} (row skipped)")
                continue
            yield reader.line_num, dict(zip(columns, cells))

    return Table(columns, rows(), max(text.count("\n") - 1, 0), problems)


def _xlsx_table(export: Export, sheet: str | None) -> Table:
    import openpyxl

    refuse_unsafe_workbook(export)
    try:
        # data_only=False: a formula cell reads as its formula text, which is then made inert.
        book = openpyxl.load_workbook(io.BytesIO(export.data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise ParseError(f"{export.name} is not a readable XLSX workbook: {exc}") from exc
    if sheet is not None and sheet not in book.sheetnames:
        raise ParseError(f"{export.name} has no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})")
    worksheet = book[sheet] if sheet else book.worksheets[0]
    cells = _readable(worksheet.iter_rows(values_only=True), export.name)
    header: list[str] = []
    header_row = 0
    for header_row, values in enumerate(cells, start=1):
        if any(v not in (None, "") for v in values):
            header = [str(v).strip() if v is not None else "" for v in values]
            break
    if not header:
        raise ParseError(f"{export.name} has no header row")
    total = (worksheet.max_row or 0) - header_row if worksheet.max_row else None

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for number, values in enumerate(cells, start=header_row + 1):
            if all(v in (None, "") for v in values):
                continue
            yield number, dict(zip(header, values))
        book.close()

    return Table(header, rows(), total, [])


def _readable(cells: Iterator[tuple], name: str) -> Iterator[tuple]:
    """A read-only sheet is parsed while its rows are read: a broken part fails there, with the file named."""
    number = 0
    try:
        for number, values in enumerate(cells, start=1):
            yield values
    except Exception as exc:  # openpyxl and its XML parsers raise many types
        raise ParseError(f"{name}: sheet unreadable after row {number}: {exc}") from exc


# Workbook parts that are XML (the rest are images, binaries, VBA).
_XML_PART_SUFFIXES = (".xml", ".rels", ".vml")


class _RootReached(Exception):
    """The part's first element started: no DOCTYPE can follow."""


class _DoctypeFound(Exception):
    pass


def refuse_unsafe_workbook(export: Export) -> None:
    """Refuse a workbook that unpacks too big or has a DOCTYPE in any XML part, before openpyxl parses anything.

    Excel never writes one; entity attacks (billion laughs, quadratic
    blowup, file:// and http:// external entities) need one. openpyxl alone
    leans on whatever its parsers do (expat's and libxml2's amplification
    limits, lxml's resolve_entities=False; defusedxml, when installed, only
    for sheets and shared strings), so the check is made here, on every part,
    with expat reading only up to each part's first element (the only place a
    DOCTYPE may stand), so it costs the prologs, not the whole workbook.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(export.data))
    except zipfile.BadZipFile as exc:
        raise ParseError(f"{export.name} is not a readable XLSX workbook: {exc}") from exc
    with archive:
        # zipfile never unpacks a member past its declared size (it fails the CRC instead),
        # so the declared sizes bound what openpyxl can be made to hold.
        unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_XLSX_UNPACKED_BYTES:
            raise ParseError(f"{export.name} unpacks to {unpacked} bytes, more than the {MAX_XLSX_UNPACKED_BYTES} "
                             "an XLSX export may (a zip bomb, or an export to send as CSV); refused unpacked")
        for info in archive.infolist():
            if not info.filename.lower().endswith(_XML_PART_SUFFIXES):
                continue
            try:
                with archive.open(info) as part:
                    found = _prolog_has_doctype(part)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise ParseError(f"{export.name} is not a readable XLSX workbook: {info.filename}: {exc}") from exc
            except ExpatError as exc:
                raise ParseError(f"{export.name}: {info.filename} is not readable XML ({exc}); refused") from exc
            if found:
                raise ParseError(f"{export.name}: {info.filename} has a DOCTYPE, where XML entities are declared "
                                 "(billion laughs, file:// or http:// reads); workbooks never need one, so the "
                                 "export is refused unparsed")


def _prolog_has_doctype(part: IO[bytes]) -> bool:
    def doctype(*_: Any) -> None:
        raise _DoctypeFound

    def root(*_: Any) -> None:
        raise _RootReached

    parser = ParserCreate()
    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = root
    try:
        while chunk := part.read(64 * 1024):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except _RootReached:
        return False
    except _DoctypeFound:
        return True
    return False  # an empty part: openpyxl decides whether it matters


def _json_table(export: Export, records_expression: str) -> Table:
    try:
        document = json.loads(decode_text(export.data))
    except ValueError as exc:
        raise ParseError(f"{export.name} is not valid JSON: {exc}") from exc
    records = jmespath.search(records_expression, document)
    if not isinstance(records, list):
        raise ParseError(f"json_records {records_expression!r} does not find a list of records in {export.name}")
    problems: list[str] = []
    columns = list(dict.fromkeys(k for r in records[:1000] if isinstance(r, dict) for k in r))

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for number, record in enumerate(records, start=1):
            if not isinstance(record, dict):
                problems.append(f"{export.name}: record {number} is not an object (skipped)")
                continue
            yield number, record

    return Table(columns, rows(), len(records), problems)


# --- columns and cells --------------------------------------------------------------------

def resolve_columns(columns: list[str], settings: Mapping[str, Any], records: str) -> dict[str, list[str]]:
    """Which export columns feed which field: explicit `mapping:` first, then the preset's names."""
    by_lower = {c.strip().lower(): c for c in columns}
    preset = settings.get("preset")
    table = (ACCOUNT_COLUMNS if records == "accounts" else ACTIVITY_COLUMNS).get(preset or "", {})
    chosen: dict[str, list[str]] = {}
    for field, candidates in table.items():
        present = [by_lower[c.lower()] for c in candidates if c.lower() in by_lower]
        if present:
            chosen[field] = present if field == "domains" else present[:1]
    for field, column in (settings.get("mapping") or {}).items():
        if column.strip().lower() not in by_lower:
            raise ParseError(f"mapping.{field}: the export has no column {column!r} "
                             f"(columns: {', '.join(columns)})")
        chosen[field] = [by_lower[column.strip().lower()]]
    required = "name" if records == "accounts" else "account"
    if required not in chosen:
        expected = ", ".join(repr(c) for c in table.get(required, ())) or "one given in mapping"
        raise ParseError(f"the export has no {required} column (looked for {expected}; columns: "
                         f"{', '.join(columns)}); set mapping.{required}")
    return chosen


_SIGNED_NUMBER = re.compile(r"^[+-]\s?\d[\d,]*(\.\d+)?%?$")


def inert(value: str) -> str:
    """A cell value a spreadsheet would run as a formula, made plain text (OWASP CSV injection)."""
    if not value:
        return value
    first = value[0]
    # A signed number ("-42", "+1.5") stays a number; anything else after a sign is a formula
    # ("-2+3+cmd|' /C calc'!A0" runs in a spreadsheet just like "=...").
    if first in "=@\t\r" or (first in "+-" and len(value) > 1 and not _SIGNED_NUMBER.match(value)):
        return "'" + value
    return value


def _cell(value: Any) -> str:
    if isinstance(value, str):
        value = value.strip()
        if "\n" not in value and ("  " in value or "\t" in value):  # notes keep their line breaks
            value = " ".join(value.split())
        return inert(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return inert(str(value).strip())


def _first(values: list[str] | None) -> str:
    for value in values or []:
        if value:
            return value
    return ""


def _split(value: str, pattern: str) -> list[str]:
    return [part.strip() for part in re.split(pattern, value) if part.strip()]


def domain_of(value: str) -> str | None:
    """'https://www.Acme.com/about' -> 'acme.com'; None when it is no domain at all."""
    match = _HOST.match(value.strip().strip("'\"").lower())
    if not match:
        return None
    host = match.group(1).removeprefix("www.")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return host if _DOMAIN.match(host) else None


def _summarized(problems: list[str]) -> tuple[str, ...]:
    if len(problems) <= MAX_REPORTED_PROBLEMS:
        return tuple(problems)
    more = len(problems) - MAX_REPORTED_PROBLEMS
    return tuple(problems[:MAX_REPORTED_PROBLEMS]) + (f"… and {more} more problem(s)",)

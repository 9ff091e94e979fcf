"""What the XML guards cost, and what the attacks they stop would cost without them.

Side by side in one run:
  - an XLSX export of --rows accounts (written by openpyxl): the workbook check
    (declared sizes, every XML part's prolog) next to reading every row the way
    the CRM connector does;
  - a web page of --entries list entries: the DOCTYPE check next to parsing
    and listing the entries;
  - a hostile page (4 levels of laughs, XHTML with <?xml) parsed the way parsel
    picks by itself (XML) and the way the web connector parses (HTML, refused).

    .venv/bin/python bench/xml_guards.py [--rows 100000] [--entries 2000]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parsel import Selector  # noqa: E402

from connectors.base import ParseError  # noqa: E402
from connectors.crm import Export, _xlsx_table, refuse_unsafe_workbook  # noqa: E402
from connectors.web import list_entries, refuse_dtd_subset  # noqa: E402


def best_of(runs: int, call) -> float:
    """Fastest of a few runs, in seconds (the machine is shared: the minimum is the least disturbed)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def workbook(rows: int) -> bytes:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Accounts")
    sheet.append(["Account Name", "Account Owner", "Website", "Industry", "Type"])
    for n in range(rows):
        sheet.append([f"Benchmark Company {n:06d} Inc.", f"Rep {n % 40}", f"bench{n:06d}.example", "Energy",
                      "Prospect"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def page(entries: int) -> str:
    items = "".join(f'<li class="release"><a href="/press/{n}">Siemens AG news number {n}</a></li>'
                    for n in range(entries))
    return f"<!DOCTYPE html><html><head><title>Newsroom</title></head><body><ul>{items}</ul></body></html>"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=2000)
    args = parser.parse_args()

    data = workbook(args.rows)
    export = Export("bench.xlsx", data, "xlsx")
    check = best_of(5, lambda: refuse_unsafe_workbook(export))
    read = best_of(2, lambda: sum(1 for _ in _xlsx_table(export, None).rows))
    print(f"XLSX, {args.rows:,} rows, {len(data) / 2 ** 20:.1f} MB: workbook check {check * 1000:.1f} ms, "
          f"reading every row {read:.2f} s (the check is {check / read:.1e} of the read)")

    html = page(args.entries)
    check = best_of(20, lambda: refuse_dtd_subset(html))
    parse = best_of(5, lambda: list_entries(html, "https://news.example.com/", {"item": "li.release"}))
    print(f"web page, {args.entries:,} entries, {len(html) / 1024:.0f} kB: DOCTYPE check {check * 1e6:.0f} µs, "
          f"parsing and listing {parse * 1000:.1f} ms (the check is {check / parse:.1e} of it)")

    levels = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 5))
    hostile = (f'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY lol0 "lol">{levels}]>'
               '<html><body><ul><li class="release"><a href="/a">Siemens &lol4; news</a></li></ul></body></html>')
    as_xml = Selector(text=hostile).css("li.release a").xpath("normalize-space(string(.))").get("")
    try:
        list_entries(hostile, "https://news.example.com/", {"item": "li.release"})
        verdict = "parsed"
    except ParseError as exc:
        verdict = f"refused ({str(exc)[:60]}…)"
    print(f"hostile XHTML, {len(hostile)} bytes: parsel's own choice (XML) gives a {len(as_xml):,}-character "
          f"title; the web connector: {verdict}")


if __name__ == "__main__":
    main()

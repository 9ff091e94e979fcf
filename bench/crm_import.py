"""CRM import at size: a 100,000-row Salesforce-style account export, end to end.

Measures, on a fresh SQLite database (and PostgreSQL with --postgres):
  - reading and mapping the export (the connector alone);
  - the first import (100k new prospects, one transaction);
  - a re-import of the same rows (touched file: everything compared, nothing written);
  - the peak RSS of the process.

    .venv/bin/python bench/crm_import.py [--rows 100000] [--postgres]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STAGES = ("Prospect", "Customer - Direct", "Customer - Channel", "Other")
INDUSTRIES = ("Aerospace", "Energy", "Software", "Retail", "Banking", "Logistics", "Machinery")


def write_export(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Account Name", "Account Owner", "Website", "Industry", "Type", "Billing City"])
        for n in range(rows):
            writer.writerow([f"Benchmark Company {n:06d} Inc.", f"Rep {n % 40}", f"https://www.bench{n:06d}.example/",
                             INDUSTRIES[n % len(INDUSTRIES)], STAGES[n % len(STAGES)], "Springfield"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="also run against INTEL_TEST_POSTGRES_URL")
    args = parser.parse_args()

    from connectors.base import SourceSpec
    from connectors.crm import CrmConnector
    from connectors.http import PoliteClient
    from intel.config import load_config
    from intel.pipeline import Pipeline
    from intel.sync import sync_config
    from intel.worker import Worker
    from models.db import make_engine, make_sessionmaker, upgrade

    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        export = base / "accounts.csv"
        started = time.perf_counter()
        write_export(export, args.rows)
        print(f"export: {args.rows} rows, {export.stat().st_size / 1e6:.1f} MB "
              f"(written in {time.perf_counter() - started:.1f}s)")

        spec = SourceSpec(id="crm", kind="crm", url=export.as_uri(), allow_file=True,
                          settings={"path": str(export), "preset": "salesforce", "records": "accounts"})
        started = time.perf_counter()
        result = CrmConnector(PoliteClient()).fetch(spec)
        print(f"read and map (connector only): {time.perf_counter() - started:.2f}s, "
              f"{len(result.accounts)} accounts, {len(result.warnings)} warnings")

        databases = [("sqlite", f"sqlite:///{base / 'intel.db'}")]
        if args.postgres:
            databases.append(("postgres", os.environ.get(
                "INTEL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")))
        for name, url in databases:
            config_path = base / f"{name}.yaml"
            config_path.write_text(f"database: {url}\nsources:\n  - {{id: crm, kind: crm, path: accounts.csv, "
                                   "preset: salesforce}\n")
            config = load_config(config_path)
            engine = make_engine(config.database)
            upgrade(engine)
            sessions = make_sessionmaker(engine)
            sync_config(sessions, config)
            pipeline = Pipeline(config, sessions)
            worker = Worker(pipeline, name="bench")
            for label in ("first import", "re-import (file touched, rows unchanged)"):
                os.utime(export)
                started = time.perf_counter()
                [outcome] = worker.tick(only="crm")
                print(f"{name}: {label}: {time.perf_counter() - started:.2f}s — {outcome.status}, "
                      f"{outcome.counts.new} new, {outcome.counts.updated} updated, {outcome.counts.seen} unchanged")
            if name == "postgres":  # leave the shared test database as we found it
                from sqlalchemy import text
                with engine.begin() as connection:
                    for table in ("mentions", "signals", "items", "source_runs", "sources", "prospects"):
                        connection.execute(text(f"DELETE FROM {table}"))
            worker.stop()
            pipeline.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()

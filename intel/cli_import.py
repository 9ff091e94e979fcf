"""`intel import --source ID`: run a CRM export source now, with a progress bar.

The same run as the scheduler's (one transaction, recorded in the source's
health), only with the rows counted on screen: a 100k-row export takes a
while and ops staff should see it move.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

console = Console()
errors = Console(stderr=True)


def import_export(source: Annotated[str, typer.Option("--source", "-s", help="The id of a `kind: crm` source.")],
                  config: Annotated[Optional[Path], typer.Option(
                      "--config", "-c", help="Config file (default: $INTEL_CONFIG, then config/intel.yaml).")]
                  = None) -> None:
    """Import a CRM export (accounts or activities) now; exit 1 if it failed."""
    from connectors.crm import CrmConnector
    from intel.cli import _config, _prepare, _setup_logging
    from intel.pipeline import Pipeline
    from intel.worker import Worker
    from models import repository

    _setup_logging("WARNING")
    loaded = _config(config)
    crm_ids = [s.id for s in loaded.sources if s.kind == "crm"]
    if source not in crm_ids:
        errors.print(f"no crm source with id {source!r} (crm sources: {', '.join(crm_ids) or 'none'})")
        raise typer.Exit(2)
    sessions = _prepare(loaded)
    pipeline = Pipeline(loaded, sessions)
    worker = Worker(pipeline)
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=errors, transient=False) as progress:
            task = progress.add_task(f"{source}: reading rows", total=None)

            def report(done: int, total: int | None) -> None:
                progress.update(task, completed=done, total=max(total or 0, done) or None)
                if total is not None and done >= total:
                    progress.update(task, description=f"{source}: storing")

            pipeline.connectors["crm"] = CrmConnector(pipeline.client, progress=report)
            [outcome] = worker.tick(only=source)
            progress.update(task, description=f"{source}: {outcome.status}")
    finally:
        worker.stop()
        pipeline.close()
    with sessions() as session:
        runs = repository.recent_runs(session, source, limit=1)
        note = runs[0].error if runs else None
    console.print(f"{source}: {outcome.status}; {outcome.counts.new} new, {outcome.counts.updated} updated, "
                  f"{outcome.counts.seen} unchanged", highlight=False)
    for line in (note or "").split("; "):
        if line:
            console.print(f"  {line}", markup=False, highlight=False)
    if outcome.status == "failed":
        raise typer.Exit(1)

"""`intel status`: sources, prospects per owner and stage, and the latest runs, as rich tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from intel.clock import utcnow

console = Console()


def status(config: Annotated[Optional[Path], typer.Option(
               "--config", "-c", help="Config file (default: $INTEL_CONFIG, then config/intel.yaml).")] = None,
           runs: Annotated[int, typer.Option(help="How many of the latest runs to show.")] = 10) -> None:
    """Sources, prospects (per owner and stage) and the latest runs at a glance."""
    from intel.cli import _config
    from models import ops, repository
    from models.db import make_engine, make_sessionmaker, upgrade

    loaded = _config(config)
    engine = make_engine(loaded.database)
    upgrade(engine)  # a fresh install shows empty tables, not a missing-table error
    sessions = make_sessionmaker(engine)
    now = utcnow()
    with sessions() as session:
        health = repository.sources_health(session)
        per_day = ops.items_per_day(session, now=now)
        counts = ops.prospect_counts(session)
        latest = ops.recent_runs(session, limit=runs)
        due = ops.due_source_count(session, now=now)
    console.print(sources_table(health, per_day, due))
    console.print(prospects_table(counts))
    console.print(runs_table(latest))


def sources_table(health: list[dict], per_day: dict[str, float], due: int) -> Table:
    table = Table(title=f"Sources ({len(health)}; {due} due now)", title_justify="left")
    for column in ("source", "status", "errors", "items/day", "last run", "next run", "last error"):
        table.add_column(column, overflow="fold")
    for row in health:
        if not row["enabled"]:
            state = f"[dim]disabled: {row['disabled_reason'] or '-'}[/dim]"
        elif row["error_count"]:
            state = "[red]failing[/red]"
        elif row["last_status"] is None:
            state = "[yellow]never run[/yellow]"
        else:
            state = f"[green]{row['last_status']}[/green]"
        table.add_row(row["id"], state, str(row["error_count"]), f"{per_day.get(row['id'], 0):.1f}",
                      _when(row["last_run_at"]), _when(row["next_check_at"]), row["last_error"] or "")
    return table


def prospects_table(counts: dict[tuple[str, str], int]) -> Table:
    from intel.settings import STAGES

    stages = [s for s in STAGES if any(k[1] == s for k in counts)]
    stages += sorted({k[1] for k in counts} - set(stages))
    owners = sorted({k[0] for k in counts})
    table = Table(title=f"Prospects per owner and stage ({len(owners)} owners)", title_justify="left")
    table.add_column("owner")
    for stage in stages:
        table.add_column(stage, justify="right")
    table.add_column("total", justify="right", style="bold")
    for owner in owners:
        values = [counts.get((owner, stage), 0) for stage in stages]
        table.add_row(owner, *[str(v) if v else "·" for v in values], str(sum(values)))
    return table


def runs_table(latest: list[dict]) -> Table:
    table = Table(title="Latest runs", title_justify="left")
    for column in ("finished", "source", "status", "HTTP", "new", "seen", "ms", "error"):
        table.add_column(column, overflow="fold")
    for run in latest:
        colour = {"failed": "red", "ok": "green"}.get(run["status"], "cyan")
        table.add_row(_when(run["finished_at"]), run["source_id"], f"[{colour}]{run['status']}[/{colour}]",
                      str(run["http_status"] or "-"), str(run["items_new"]), str(run["items_seen"]),
                      str(run["duration_ms"]), run["error"] or "")
    return table


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"

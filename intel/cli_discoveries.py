"""`intel discoveries`: organizations that are not prospects but keep appearing with strong signals."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from intel.clock import utcnow

console = Console()


def discoveries(config: Annotated[Optional[Path], typer.Option(
                    "--config", "-c", help="Config file (default: $INTEL_CONFIG, then config/intel.yaml).")] = None,
                min_items: Annotated[int, typer.Option(help="Seen in at least this many items.")] = 3,
                min_signal_items: Annotated[int, typer.Option(help="... this many of them with signals.")] = 1,
                days: Annotated[Optional[int], typer.Option(help="Only the last N days.")] = None,
                as_json: Annotated[bool, typer.Option("--json", help="JSON Lines instead of a table.")] = False,
                limit: Annotated[int, typer.Option(help="At most this many suggestions.")] = 50) -> None:
    """Lead suggestions: organizations (found by tagging.model's NER) seen repeatedly with strong signals."""
    from intel.cli import _config
    from models.db import make_engine, make_sessionmaker, upgrade
    from models.discoveries import lead_suggestions

    loaded = _config(config)
    engine = make_engine(loaded.database)
    upgrade(engine)
    since = utcnow() - timedelta(days=days) if days else None
    with make_sessionmaker(engine)() as session:
        found = lead_suggestions(session, min_items=min_items, min_signal_items=min_signal_items, since=since,
                                 limit=limit, visibilities=("external", "internal"))
    if as_json:
        for d in found:
            print(json.dumps({"name": d.name, "key": d.key, "items": d.items,
                              "items_with_signals": d.items_with_signals, "signals": d.signals,
                              "first_seen_at": d.first_seen_at.isoformat(),
                              "last_seen_at": d.last_seen_at.isoformat(),
                              "examples": [{"item_id": e.item_id, "title": e.title, "url": e.url}
                                           for e in d.examples]}, ensure_ascii=False))
        return
    if not loaded.tagging.model:
        console.print("[yellow]tagging.model is not set: organizations are only collected with a "
                      "statistical model (e.g. en_core_web_sm).[/yellow]")
    table = Table("organization", "items", "with signals", "signals", "last seen", "example")
    for d in found:
        table.add_row(d.name, str(d.items), str(d.items_with_signals),
                      ", ".join(f"{k} ×{v}" for k, v in d.signals.items()),
                      d.last_seen_at.strftime("%Y-%m-%d"), d.examples[0].title if d.examples else "")
    console.print(table if found else "no lead suggestions yet")

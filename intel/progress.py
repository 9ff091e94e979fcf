"""Progress bars for long one-off runs (`intel fetch` over many sources: the first backfill).

Shown on stderr only when it is a terminal, so scripts, CI logs and JSON log
lines stay clean.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from intel.clock import utcnow
from models import ops


@contextmanager
def source_run_progress(pipeline, *, only: str | None = None, console: Console | None = None) -> Iterator[None]:
    """Count finished source runs of `pipeline` on a bar while the block runs."""
    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield
        return
    if only is not None:
        total = 1
    else:
        with pipeline.sessions() as session:
            total = ops.due_source_count(session, now=utcnow())
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)
    task = progress.add_task("fetching sources", total=max(total, 1))
    run_source = pipeline.run_source

    def counted(state):
        try:
            return run_source(state)
        finally:
            progress.update(task, advance=1, description=f"fetched {state.id}")

    # The worker calls pipeline.run_source for each claimed source; counting there needs no
    # change to the worker and sees exactly the runs that finish.
    pipeline.run_source = counted
    try:
        with progress:
            yield
    finally:
        del pipeline.run_source

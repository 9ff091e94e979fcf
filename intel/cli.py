"""The `intel` command line (typer + rich)."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from intel.config import ConfigError, load_config
from intel.settings import Config

app = typer.Typer(help="prospect-intel: market-intelligence feeds about your prospects.",
                  no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()
errors = Console(stderr=True)
log = logging.getLogger("intel")

ConfigOption = Annotated[Optional[Path], typer.Option(
    "--config", "-c", help="Config file (default: $INTEL_CONFIG, then config/intel.yaml).")]


class LogFormat(str, Enum):
    text = "text"
    json = "json"


LogFormatOption = Annotated[LogFormat, typer.Option(
    "--log-format", help="Log lines as 'text' (readable) or 'json' (one JSON object a line).")]


def _setup_logging(level: str = "INFO", log_format: LogFormat | str = "text") -> None:
    from intel.logging_setup import setup_logging

    setup_logging(level, LogFormat(log_format).value)


def _config(path: Path | None) -> Config:
    """Load the config or print every problem and exit 2 before anything starts."""
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)  # one unwrapped line each, for editors and grep
        errors.print(f"[red]{len(exc.problems)} config problem(s); nothing was started.[/red]")
        raise typer.Exit(2) from None


def _prepare(config: Config):
    """Migrate the schema and make the database match the config; returns the session factory."""
    from intel.sync import sync_config
    from models.db import make_engine, make_sessionmaker, upgrade

    engine = make_engine(config.database)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    sync_config(sessions, config)
    return sessions


def _api_settings(config: Config):
    from api.settings import ApiSettings
    from intel.signals import stage_map

    return ApiSettings(database=config.database, public_url=config.server.public_url,
                       page_size=config.feeds.page_size, max_age=config.feeds.max_age,
                       auth_required=config.auth.required, channels=_channel_specs(config),
                       tagging_model=config.tagging.model, tagging_min_score=config.tagging.min_score,
                       signal_stages=stage_map(config.signals), tagging_signals=config.signals)


def _api_app(config: Config, sessions=None):
    from api.app import create_app

    return create_app(_api_settings(config), sessions)


def _channel_specs(config: Config):
    from api.settings import ChannelSpec

    return tuple(ChannelSpec(name=c.name, title=c.title or c.name, description=c.description or "",
                             signal=tuple(c.signal), min_score=c.min_score, stage=tuple(c.stage),
                             source=tuple(c.source), q=c.q, all_prospects=c.prospects == "all")
                 for c in config.channels)


@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate the config; errors as FILE:LINE:COL: field: message (exit 2)."""
    loaded = _config(config)
    console.print(f"config OK: {len(loaded.sources)} sources, {len(loaded.prospects)} prospects, "
                  f"database {loaded.database}")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply schema migrations up to the newest."""
    from models.db import current_revision, make_engine, upgrade

    engine = make_engine(_config(config).database)
    upgrade(engine)
    console.print(f"database at revision {current_revision(engine)}")


@app.command()
def fetch(config: ConfigOption = None,
          source: Annotated[Optional[str], typer.Option(help="Run this source now, due or not.")] = None,
          log_format: LogFormatOption = LogFormat.text) -> None:
    """Run due sources (or the one named) once and exit; exit 1 if any failed."""
    _setup_logging(log_format=log_format)
    from intel.pipeline import Pipeline
    from intel.progress import source_run_progress
    from intel.worker import Worker
    from models import repository

    loaded = _config(config)
    sessions = _prepare(loaded)
    if source is not None:
        with sessions() as session:
            if not repository.source_exists(session, source):
                errors.print(f"no source with id {source!r} in {config or 'the config'}")
                raise typer.Exit(2)
    pipeline = Pipeline(loaded, sessions)
    worker = Worker(pipeline)
    try:
        with source_run_progress(pipeline, only=source, console=errors):  # a bar on terminals only
            outcomes = worker.tick(only=source)
    finally:
        worker.stop()
        pipeline.close()
    table = Table("source", "status", "new", "updated", "unchanged", "error")
    for o in outcomes:
        table.add_row(o.source_id, o.status, str(o.counts.new), str(o.counts.updated),
                      str(o.counts.seen), o.error or "")
    console.print(table if outcomes else "no source was due")
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


@app.command()
def tag(input_file: Annotated[str, typer.Argument(metavar="[FILE|-]", help="JSON Lines; - is stdin.")] = "-",
        config: ConfigOption = None) -> None:
    """Tag JSON Lines items against the prospect list; one JSON line out per line in."""
    from intel.tagging import ProspectTagger, TaggingModelError, TagInput, load_pipeline

    loaded = _config(config)
    _setup_logging("WARNING")
    try:
        nlp = load_pipeline(loaded.tagging.model)
    except TaggingModelError as exc:
        errors.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    tagger = ProspectTagger(loaded.prospects, nlp, min_score=loaded.tagging.min_score, signals=loaded.signals)
    stream = sys.stdin if input_file == "-" else open(input_file, encoding="utf-8")
    failed = 0
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                text = TagInput(title=str(record.get("title") or ""),
                                summary=str(record.get("summary") or record.get("text") or ""),
                                content=str(record.get("content") or ""), url=record.get("url"))
            except (json.JSONDecodeError, AttributeError) as exc:
                errors.print(f"{input_file}:{number}: not a JSON object: {exc}", markup=False)
                failed += 1
                continue
            result = tagger.tag(text)
            print(json.dumps({
                "id": record.get("id"),
                "mentions": [{"prospect": m.prospect_id, "score": m.score, "evidence": list(m.evidence)}
                             for m in result.mentions],
                "signals": [{"type": s.type, "score": s.score, "evidence": list(s.evidence),
                             **({"prospect": s.prospect_id} if s.prospect_id else {}),
                             **({"role": s.role} if s.role else {}), "stages": list(s.stages)}
                            for s in result.signals],
                **({"organizations": list(result.organizations)} if result.organizations else {}),
            }, ensure_ascii=False), flush=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def sources(config: ConfigOption = None) -> None:
    """Every source's health: status, errors, last and next run."""
    from models import repository
    from models.db import make_engine, make_sessionmaker

    sessions = make_sessionmaker(make_engine(_config(config).database))
    with sessions() as session:
        rows = repository.sources_health(session)
    table = Table("source", "kind", "enabled", "last status", "http", "new/seen", "bytes", "ms", "errors",
                  "items", "last run", "next check", "last error or note")
    for row in rows:
        ran = row["last_status"] is not None
        table.add_row(row["id"], row["kind"], "yes" if row["enabled"] else f"no ({row['disabled_reason']})",
                      row["last_status"] or "never run", str(row["last_http_status"] or "-"),
                      f"{row['last_items_new']}/{row['last_items_seen']}" if ran else "-",
                      str(row["last_bytes"]) if ran else "-", str(row["last_duration_ms"]) if ran else "-",
                      str(row["error_count"]), str(row["items"]), _when(row["last_run_at"]),
                      _when(row["next_check_at"]), row["last_error"] or row["last_run_note"] or "")
    console.print(table)


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


@app.command()
def serve(config: ConfigOption = None, log_format: LogFormatOption = LogFormat.text) -> None:
    """Serve the feeds and the JSON API only (`server.workers` processes)."""
    from intel.serving import serve_api

    _setup_logging(log_format=log_format)
    serve_api(_config(config), config, LogFormat(log_format).value)


@app.command()
def worker(config: ConfigOption = None, log_format: LogFormatOption = LogFormat.text,
           metrics_port: Annotated[Optional[int], typer.Option(
               help="Serve this worker's Prometheus metrics on this port (the API serves them in `run`).")] = None
           ) -> None:
    """Run the scheduler, pipeline and alerts only (no API) until interrupted; reloads the config on change."""
    _setup_logging(log_format=log_format)
    loaded = _config(config)
    running = _start_worker(config, loaded, _prepare(loaded))
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=loaded.server.host)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    running.stop()


def _start_worker(path: Path | None, config: Config, sessions, on_reload=None):
    """The scheduler and alert deliveries, reloading the config when its files change or on SIGHUP."""
    from intel.config import default_config_path
    from intel.service import WorkerService

    running = WorkerService(path or default_config_path(), config, sessions, on_reload=on_reload)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda *_: running.request_reload())
    running.start()
    return running


@app.command()
def run(config: ConfigOption = None, log_format: LogFormatOption = LogFormat.text) -> None:
    """Migrate, then run the scheduler and the API in one process (the single-machine default)."""
    import uvicorn

    _setup_logging(log_format=log_format)
    loaded = _config(config)
    sessions = _prepare(loaded)
    api = _api_app(loaded, sessions)
    # A reloaded config reaches the API too: channels, page size, cache lifetime.
    running = _start_worker(config, loaded, sessions,
                            on_reload=lambda new: setattr(api.state, "settings", _api_settings(new)))
    base = loaded.server.public_url
    console.print(f"\n[bold]prospect-intel[/bold] is running at {base} — feeds to open:")
    for prospect in loaded.prospects[:50]:
        console.print(f"  {prospect.name:<32} {base}/feeds/prospects/{prospect.id}.atom", highlight=False,
                      soft_wrap=True)  # one URL per line, whatever the terminal width
    console.print(f"  JSON API: {base}/api/v1/prospects   sources: {base}/api/v1/sources   "
                  f"docs: {base}/docs   your page: {base}/app\n", highlight=False, soft_wrap=True)
    if loaded.auth.required:
        console.print(f"  Feeds need a token: `intel tokens create --user EMAIL`, then subscribe to "
                      f"{base}/feeds/users/EMAIL.opml?token=TOKEN\n", highlight=False, soft_wrap=True)
    from intel.serving import freeze_start_up_heap

    freeze_start_up_heap()  # as `intel serve` does: no full GC pass over start-up objects mid-request
    try:
        uvicorn.run(api, host=loaded.server.host, port=loaded.server.port, log_level="info",
                    log_config=None)  # our handlers: same format, tokens redacted
    finally:
        running.stop()


from intel.cli_tokens import tokens_app  # noqa: E402  (own module; registered here)
app.add_typer(tokens_app, name="tokens")

from intel.cli_status import status  # noqa: E402  (own module; registered here)
app.command()(status)

from intel.cli_discoveries import discoveries  # noqa: E402  (own module; registered here)
app.command()(discoveries)

from intel.cli_import import import_export  # noqa: E402  (own module; registered here)
app.command("import")(import_export)

if __name__ == "__main__":
    app()

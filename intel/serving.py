"""`intel serve`: the API alone, in `server.workers` uvicorn processes.

A serving process keeps nothing but a bounded cache of renderings keyed by their
validators (api/render_cache.py), so replicas and workers share only the
database and any number can run behind a load balancer. Python runs one thread
of Python code at a time per process; several worker processes let feed
rendering use every core. With more than one, uvicorn's supervisor starts them
as fresh processes that build the app from the same config file, handed over as
$INTEL_CONFIG (where the CLI looks for it anyway), and restarts one that dies.
"""

from __future__ import annotations

import os
from pathlib import Path

from intel.settings import Config

# How the supervisor tells its worker processes the log format chosen on the command line.
_LOG_FORMAT_VARIABLE = "INTEL_SERVE_LOG_FORMAT"


def serve_api(config: Config, config_path: Path | None, log_format: str) -> None:
    """Serve the API until interrupted, in one process or `server.workers` of them."""
    import uvicorn

    from intel.config import default_config_path

    workers = config.server.workers
    if workers == 1:
        from intel.cli import _api_app

        uvicorn.run(_api_app(config), host=config.server.host, port=config.server.port, log_level="info",
                    log_config=None)  # our handlers: same format, tokens redacted
        return
    os.environ["INTEL_CONFIG"] = str(Path(config_path or default_config_path()).resolve())
    os.environ[_LOG_FORMAT_VARIABLE] = log_format
    uvicorn.run("intel.serving:worker_app", factory=True, workers=workers, host=config.server.host,
                port=config.server.port, log_level="info", log_config=None)


def worker_app():
    """The app of one worker process (uvicorn calls this in each process it starts)."""
    from intel.cli import _api_app, _setup_logging
    from intel.config import load_config

    _setup_logging(log_format=os.environ.get(_LOG_FORMAT_VARIABLE, "text"))
    return _api_app(load_config())

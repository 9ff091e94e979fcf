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

import gc
import os
import socket
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

        app = _api_app(config)
        freeze_start_up_heap()
        uvicorn.run(app, host=config.server.host, port=config.server.port, log_level="info",
                    log_config=None)  # our handlers: same format, tokens redacted
        return
    from uvicorn.supervisors import Multiprocess

    os.environ["INTEL_CONFIG"] = str(Path(config_path or default_config_path()).resolve())
    os.environ[_LOG_FORMAT_VARIABLE] = log_format
    settings = uvicorn.Config("intel.serving:worker_app", factory=True, workers=workers, host=config.server.host,
                              port=config.server.port, log_level="info", log_config=None)
    # What uvicorn.run does for workers > 1, with a listening socket of our own (see tcp_listener).
    Multiprocess(settings, sockets=[tcp_listener(config.server.host, config.server.port)]).run()


def tcp_listener(host: str, port: int) -> socket.socket:
    """The listening socket the worker processes share, made with IPPROTO_TCP.

    uvicorn's own (`Config.bind_socket`) leaves the protocol at 0; accepted connections inherit
    it and asyncio then leaves Nagle's algorithm on, so every keep-alive request after the first
    waited ~40 ms for the client's delayed ACK (uvicorn issue #3149; measured here: /healthz
    took 44-52 ms instead of 4-6 ms with two workers).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def worker_app():
    """The app of one worker process (uvicorn calls this in each process it starts)."""
    from intel.cli import _api_app, _setup_logging
    from intel.config import load_config

    _setup_logging(log_format=os.environ.get(_LOG_FORMAT_VARIABLE, "text"))
    app = _api_app(load_config())
    freeze_start_up_heap()
    return app


def freeze_start_up_heap() -> None:
    """Keep what start-up built (modules, the app, SQLAlchemy's and pydantic's tables) out of
    every later garbage collection.

    A serving process holds ~180,000 container objects once the app is built, and the
    collector's full pass walks them all: 160-230 ms of CPU in the middle of a request
    (twice in 750 first-time renders of the 1,000,000-item bench databases), a pause that
    lands on every request in flight in that process and made the slow end of the
    full-render latency. Start-up objects live as long as the process, so collecting the
    garbage first and freezing the rest loses nothing; the full passes that still come walk
    only what was made since.
    """
    gc.collect()
    gc.freeze()

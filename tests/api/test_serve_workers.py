"""`intel serve` with `server.workers: 2`: two processes answer on one port, sharing only the database."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_intel_serve_runs_the_configured_number_of_worker_processes(seeded, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "serve.yaml"
    config.write_text(yaml.safe_dump({"database": seeded.url, "auth": {"required": False},
                                      "server": {"host": "127.0.0.1", "port": port, "workers": 2}}),
                      encoding="utf-8")
    log = tmp_path / "serve.log"
    server = subprocess.Popen([sys.executable, "-m", "intel.cli", "serve", "--config", str(config)],
                              stdout=subprocess.DEVNULL, stderr=log.open("wb"), cwd=ROOT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, log.read_text()[-3000:]
            time.sleep(0.3)
        serving = [p for p in psutil.Process(server.pid).children(recursive=True)
                   if "spawn_main" in " ".join(p.cmdline())]  # not multiprocessing's resource tracker
        assert len(serving) == 2, [p.cmdline() for p in serving]
        # Keep-alive connections from several clients, each answered whole by whichever process took it.
        bodies = set()
        for _ in range(4):
            with httpx.Client(base_url=base, timeout=30) as http:
                for _ in range(5):
                    response = http.get("/feeds/prospects/apple.atom")
                    assert response.status_code == 200
                    bodies.add(response.content)
        assert len(bodies) == 1  # the same document from either process
        assert "Tim Cook names a new Apple CFO" in bodies.pop().decode()
    finally:
        server.terminate()
        server.wait(30)
    assert "Traceback" not in log.read_text()

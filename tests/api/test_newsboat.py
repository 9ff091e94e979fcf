"""A real feed reader: Debian's newsboat imports a user's OPML and reloads every feed, headless."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.skipif(shutil.which("newsboat") is None,
                                reason="newsboat is not installed (apt-get install newsboat)")


@pytest.fixture(params=["sqlite"])  # what newsboat sees does not depend on the database
def database_url(request, tmp_path):
    return f"sqlite:///{tmp_path / 'intel.db'}"


def newsboat(tmp_path, *args: str) -> subprocess.CompletedProcess:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (tmp_path / "config").write_text("reload-threads 4\ndownload-timeout 20\n")
    command = ["newsboat", "-u", str(tmp_path / "urls"), "-c", str(tmp_path / "cache.db"),
               "-C", str(tmp_path / "config"), *args]
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".local/share"), "TERM": "dumb"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_newsboat_subscribes_with_one_opml_import_and_reloads_every_feed(live_server, seeded, tmp_path):
    token = seeded.tokens["alice"]
    opml = httpx.get(f"{live_server.base_url}/feeds/users/alice@example.com.opml", params={"token": token})
    assert opml.status_code == 200
    (tmp_path / "alice.opml").write_bytes(opml.content)
    (tmp_path / "urls").write_text("")

    newsboat(tmp_path, "-i", str(tmp_path / "alice.opml"))
    subscribed = [line.split()[0] for line in (tmp_path / "urls").read_text().splitlines()
                  if line.startswith("http")]
    # Bundle, two prospects, two channels — each with the token in its URL.
    assert len(subscribed) == 5 and all(f"token={token}" in url for url in subscribed)

    live_server.seen.clear()
    unread = newsboat(tmp_path, "-x", "reload", "print-unread")
    fetched = {path: status for path, status in live_server.seen}
    for url in subscribed:
        parts = urlsplit(url)
        assert fetched.get(f"{parts.path}?{parts.query}") == 200, f"newsboat did not load {url}"
    # Entry ids are the same in every feed, so newsboat keeps each item once: Alice's five
    # external items, and not the internal call notes.
    count = int(re.search(r"(\d+) unread articles", unread.stdout).group(1))
    assert count == 5

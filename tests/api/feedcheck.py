"""Validators for the feed formats: JSON Feed 1.1 here, the W3C feed validator as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import jsonschema

SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "feeds" / "jsonfeed-1.1.schema.json").read_text())


def json_feed_problems(body: bytes) -> list[str]:
    """Everything that makes `body` not a valid JSON Feed 1.1 document."""
    doc = json.loads(body)
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc)]
    ids = [item.get("id") for item in doc.get("items", [])]
    if len(ids) != len(set(ids)):
        problems.append("item ids are not unique")
    for item in doc.get("items", []):
        for key in ("date_published", "date_modified"):
            if key in item:
                try:  # RFC 3339: a full date-time with an offset or Z
                    when = datetime.fromisoformat(item[key].replace("Z", "+00:00"))
                    assert when.tzinfo is not None and "T" in item[key]
                except (ValueError, AssertionError):
                    problems.append(f"{item['id']}: {key} {item[key]!r} is not RFC 3339")
    return problems


VALIDATOR_SCRIPT = """
import json, sys, urllib.request  # feedvalidator uses urllib.request without importing it
import feedvalidator
from feedvalidator import compatibility
from feedvalidator.formatter.text_plain import Formatter
from feedvalidator.logging import Error, Warning
url = sys.argv[1]
try:
    events = feedvalidator.validateURL(url, firstOccurrenceOnly=1)['loggedEvents']
except feedvalidator.logging.ValidationFailure as failure:
    events = [failure.event]
events = compatibility.AA(events)
out = []
for event, text in zip(events, Formatter(events)):
    level = "error" if isinstance(event, Error) else "warning" if isinstance(event, Warning) else "info"
    out.append({"level": level, "type": type(event).__name__, "text": text})
print(json.dumps(out))
"""


def feedvalidator_dir() -> Path | None:
    value = os.environ.get("FEEDVALIDATOR_DIR")
    return Path(value) if value else None


def w3c_validate(url: str) -> list[dict]:
    """The W3C validator's events for the feed at `url` ("AA": what the online validator reports)."""
    source = feedvalidator_dir() / "src"
    result = subprocess.run([sys.executable, "-c", VALIDATOR_SCRIPT, url], cwd=source, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(source)})
    assert result.returncode == 0, f"the validator crashed on {url}:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])

"""Logging for every long-running command: readable lines by default, JSON lines on request,
and never a token or a secret in either.

Redaction sits on the handler, not on single loggers, so it covers every
library that logs (uvicorn's access log prints request paths with their query
strings; httpx prints URLs; exceptions carry both).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import datetime, timezone
from typing import Iterable

LOG_FORMATS = ("text", "json")
REDACTED = "[redacted]"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

_PATTERNS = (
    # ?token=… and &token=… (feed readers put private tokens in URLs)
    (re.compile(r"(?<=[?&;])((?:access_)?token=)[^&\s\"'#]*", re.IGNORECASE), r"\1" + REDACTED),
    # Authorization: Bearer …, Basic …; and a bare "Bearer …" in any message
    (re.compile(r"(\bauthorization[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+(?:\s+[^\s\"',}]+)?", re.IGNORECASE),
     r"\1" + REDACTED),
    (re.compile(r"(\bbearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1" + REDACTED),
    # prospect-intel tokens on their own (they start with pit_)
    (re.compile(r"\bpit_[A-Za-z0-9_-]{8,}"), REDACTED),
    # secret=…, password=… in URLs or key=value text
    (re.compile(r"(\b(?:secret|password|api_key|apikey)=)[^&\s\"']*", re.IGNORECASE), r"\1" + REDACTED),
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secrets(values: Iterable[str | None]) -> None:
    """Values from the config that must never appear in a log line (webhook secrets and URLs)."""
    with _secrets_lock:
        _secrets.update(v for v in values if v and len(v) >= 6)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """Renders each record's message (and traceback) once, redacted, before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: show it raw rather than lose the record
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str = "INFO", log_format: str = "text", stream=None) -> logging.Handler:
    """Replace the root logger's handlers with one redacting handler in the chosen format."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format is one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactSecrets())
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # uvicorn's own loggers propagate to ours (uvicorn.run(..., log_config=None)), so they get
    # the same format and the same redaction.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)  # follow the root level (uvicorn.run sets its own after this)
    return handler

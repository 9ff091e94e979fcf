"""The one clock the pipeline reads: timezone-aware UTC."""

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)

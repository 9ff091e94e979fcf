"""Dates as pages and APIs write them, to timezone-aware UTC datetimes."""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone

# Tried in order after ISO 8601 and RFC 2822; what newsrooms and press pages print.
_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%B %d %Y", "%b %d %Y", "%Y/%m/%d",
            "%d.%m.%Y", "%m/%d/%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%b. %d, %Y")


def parse_date(value: object, fmt: str | None = None) -> datetime | None:
    """A datetime from a string, an epoch number (seconds or milliseconds) or a datetime; else None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 1e11 else value  # JavaScript APIs give milliseconds
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    text = " ".join(str(value).split())
    if fmt:
        try:
            return _utc(datetime.strptime(text, fmt))
        except ValueError:
            pass
    try:
        return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        return _utc(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        pass
    for candidate in _FORMATS:
        try:
            return _utc(datetime.strptime(text, candidate))
        except ValueError:
            continue
    return None


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)

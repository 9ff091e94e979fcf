"""HTTP validators: strong ETags, Last-Modified and 304 answered before rendering."""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone

from fastapi import Request, Response


def http_date(when: datetime) -> str:
    return email.utils.format_datetime(when.astimezone(timezone.utc), usegmt=True)


def is_fresh(request: Request, etag: str, last_modified: datetime) -> bool:
    """True when the client's copy is current (RFC 9110: If-None-Match wins over If-Modified-Since)."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = [tag.strip() for tag in if_none_match.split(",")]
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            client_time = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if client_time.tzinfo is None:
            client_time = client_time.replace(tzinfo=timezone.utc)
        return last_modified.replace(microsecond=0) <= client_time
    return False


def validator_headers(etag: str, last_modified: datetime, max_age: float) -> dict[str, str]:
    return {"ETag": etag, "Last-Modified": http_date(last_modified),
            "Cache-Control": f"max-age={int(max_age)}"}


def not_modified(headers: dict[str, str]) -> Response:
    return Response(status_code=304, headers=headers)

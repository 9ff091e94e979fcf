"""Headers on every response, and tokens kept out of the server's logs."""

from __future__ import annotations

import logging
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A token in a query string (`?token=…`, `&token=…`) or on its own (they all start with pit_).
_TOKEN_PATTERNS = (re.compile(r"(?<=[?&;])(token=)[^&\s\"']*", re.IGNORECASE),
                   re.compile(r"pit_[A-Za-z0-9_-]{8,}"))
REDACTED = "[redacted]"


class PrivacyHeaders:
    """`Referrer-Policy: no-referrer` everywhere: a click from a feed must not leak its token URL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def redact_tokens(text: str) -> str:
    text = _TOKEN_PATTERNS[0].sub(r"\1" + REDACTED, text)
    return _TOKEN_PATTERNS[1].sub(REDACTED, text)


class RedactTokens(logging.Filter):
    """Rewrites log records so no token reaches a handler (uvicorn logs paths with query strings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_tokens(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact_tokens(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


LOGGERS_WITH_URLS = ("uvicorn.access", "uvicorn.error", "uvicorn", "fastapi")


def keep_tokens_out_of_logs() -> None:
    """Idempotent: one filter on each logger that may print a request line."""
    for name in LOGGERS_WITH_URLS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())

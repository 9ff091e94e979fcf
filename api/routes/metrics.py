"""/metrics in the Prometheus text format.

In-process counters (fetches, fetch latency, items ingested, tagging, alert
deliveries, feed requests) come from the default registry; the queue depth and
source health are read from the database at scrape time, so they are right
however many workers run elsewhere. The 304 ratio is
`sum(rate(intel_feed_requests_total{status="304"}[5m])) / sum(rate(intel_feed_requests_total[5m]))`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models import alerts, ops

log = logging.getLogger(__name__)
router = APIRouter(tags=["ops"])

FEED_REQUESTS = Counter("intel_feed_requests", "Feed requests by format and HTTP status (304: answered "
                        "from the reader's cache validators).", ["format", "status"])


def feed_format(path: str) -> str | None:
    """'atom', 'rss', 'json' or 'opml' for a feed path; None for anything else."""
    if not path.startswith("/feeds/"):
        return None
    suffix = path.rsplit(".", 1)[-1] if "." in path.rsplit("/", 1)[-1] else ""
    return suffix if suffix in ("atom", "rss", "json", "opml") else "other"


class CountFeedRequests:
    """ASGI middleware: counts each feed response by format and status (a 304 costs no rendering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = feed_format(scope.get("path", "")) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                FEED_REQUESTS.labels(kind, str(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counting_send)


def database_gauges(sessions) -> CollectorRegistry:
    """Gauges read from the database now: a throwaway registry, rendered after the process counters."""
    registry = CollectorRegistry(auto_describe=False)
    now = datetime.now(timezone.utc)
    try:
        with sessions() as session:
            due = ops.due_source_count(session, now=now)
            states = ops.source_state_counts(session)
            deliveries = alerts.delivery_counts(session)
    except SQLAlchemyError as exc:
        log.warning("metrics: database unreachable: %s", type(exc).__name__)
        up = GaugeMetricFamily("intel_database_up", "1 when the database answered this scrape.")
        up.add_metric([], 0)
        registry.register(_Fixed([up]))
        return registry
    up = GaugeMetricFamily("intel_database_up", "1 when the database answered this scrape.")
    up.add_metric([], 1)
    queue = GaugeMetricFamily("intel_queue_depth", "Sources due now and not claimed by any worker.")
    queue.add_metric([], due)
    sources = GaugeMetricFamily("intel_sources", "Sources by state.", labels=["state"])
    for state, count in states.items():
        sources.add_metric([state], count)
    pending = GaugeMetricFamily("intel_alert_deliveries_queued", "Alert deliveries by target and status.",
                                labels=["target", "status"])
    for (target, status), count in sorted(deliveries.items()):
        pending.add_metric([target, status], count)
    registry.register(_Fixed([up, queue, sources, pending]))
    return registry


class _Fixed:
    def __init__(self, families) -> None:
        self.families = families

    def collect(self):
        return iter(self.families)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(request: Request) -> Response:
    body = generate_latest(REGISTRY) + generate_latest(database_gauges(request.app.state.sessions))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """The /metrics route and the feed-request counter: the one line `create_app` needs."""
    app.include_router(router)
    app.add_middleware(CountFeedRequests)

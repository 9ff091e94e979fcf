"""Queue alerts for new signals and deliver them to webhooks, retrying with backoff.

Runs as its own APScheduler job in the worker: source runs only store
signals; this job later reads them from the database, so a slow or broken
webhook can delay an alert but never a fetch.
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import datetime, timedelta

import httpx
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from intel import metrics
from intel.alerts import messages
from intel.alerts.rules import deliveries_for
from intel.clock import utcnow
from intel.settings import AlertsConfig, WebhookConfig
from models import alerts as store
from models.alerts import DeliveryJob

log = logging.getLogger(__name__)

USER_AGENT = "prospect-intel-alerts/0.1"
MATCH_BATCH = 500
DELIVERY_BATCH = 50
# Answers that mean "this will never work as sent": retrying only spams the receiver's logs.
_RETRYABLE_CLIENT_ERRORS = {408, 409, 425, 429}


class AlertDispatcher:
    def __init__(self, config: AlertsConfig, sessions: sessionmaker[Session],
                 client: httpx.Client | None = None) -> None:
        self.config = config
        self.sessions = sessions
        self.client = client or httpx.Client(follow_redirects=False, headers={"User-Agent": USER_AGENT})
        self._scheduler: BackgroundScheduler | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.config.rules)

    def reconfigure(self, config: AlertsConfig) -> None:
        """A reloaded config takes effect at the next tick; queued deliveries keep their place."""
        with self._lock:
            self.config = config
        if self._scheduler is not None:
            self._scheduler.reschedule_job("alerts", trigger=IntervalTrigger(seconds=config.every))

    # --- one tick ----------------------------------------------------------------------------

    def tick(self) -> tuple[int, int]:
        """Queue deliveries for new signals, then send what is due; returns (queued, sent)."""
        with self._lock:
            config = self.config
        queued = self.queue_new_signals(config)
        sent = self.deliver_due(config)
        return queued, sent

    def queue_new_signals(self, config: AlertsConfig) -> int:
        queued = 0
        while True:
            now = utcnow()
            with self.sessions.begin() as session:
                candidates = store.claim_unchecked_signals(session, limit=MATCH_BATCH)
                if not candidates:
                    return queued
                added = store.queue_deliveries(session, deliveries_for(candidates, config.rules, now), now)
                store.mark_signals_checked(session, [c.signal_id for c in candidates], now)
            queued += added
            if added:
                log.info("alerts: %d new deliveries queued from %d signals", added, len(candidates))

    def deliver_due(self, config: AlertsConfig) -> int:
        webhooks = {w.name: w for w in config.webhooks}
        lease = timedelta(seconds=max((w.timeout for w in config.webhooks), default=10.0) * 2 + 60)
        sent = 0
        # Only what was due when the pass began: a delivery that fails in this pass waits for a later
        # tick even when its backoff is shorter than the pass, so one tick never burns all its attempts.
        pass_started = utcnow()
        while True:
            with self.sessions.begin() as session:
                jobs = store.claim_due_deliveries(session, now=utcnow(), lease=lease, limit=DELIVERY_BATCH,
                                                  due_by=pass_started)
            if not jobs:
                return sent
            for job in jobs:
                sent += self._deliver(job, webhooks.get(job.target), config)

    def _deliver(self, job: DeliveryJob, webhook: WebhookConfig | None, config: AlertsConfig) -> int:
        if webhook is None:
            self._record_failure(job, f"webhook {job.target!r} is no longer in the config", None, None, config)
            return 0
        now = utcnow()
        body, headers = _request(job, webhook, now)
        try:
            response = self.client.post(webhook.url, content=body, headers=headers, timeout=webhook.timeout)
        except httpx.HTTPError as exc:
            # Never log the URL: a Slack or Teams webhook URL is itself the secret.
            error = f"{type(exc).__name__}: {str(exc).replace(webhook.url, '<webhook url>')}"
            self._record_failure(job, error, None, None, config)
            return 0
        if 200 <= response.status_code < 300:
            with self.sessions.begin() as session:
                store.record_delivery_sent(session, job.id, now=utcnow(), http_status=response.status_code)
            metrics.ALERTS_SENT.labels(webhook.name, "sent").inc()
            log.info("alert %d sent to %s (%s, item %d)", job.id, webhook.name, webhook.format, job.item_id)
            return 1
        error = f"HTTP {response.status_code}: {response.text[:200].strip()}"
        permanent = 400 <= response.status_code < 500 and response.status_code not in _RETRYABLE_CLIENT_ERRORS
        self._record_failure(job, error, response.status_code, _retry_after(response), config,
                             permanent=permanent)
        return 0

    def _record_failure(self, job: DeliveryJob, error: str, http_status: int | None,
                        retry_after: float | None, config: AlertsConfig, *, permanent: bool = False) -> None:
        attempt = job.attempts + 1
        if permanent or attempt >= config.max_attempts:
            retry_at = None
            log.error("alert %d to %s failed for good after %d attempt(s): %s", job.id, job.target, attempt, error)
            metrics.ALERTS_SENT.labels(job.target, "failed").inc()
        else:
            delay = retry_delay(attempt, config, retry_after)
            retry_at = utcnow() + timedelta(seconds=delay)
            log.warning("alert %d to %s failed (attempt %d of %d), retrying in %.0fs: %s", job.id, job.target,
                        attempt, config.max_attempts, delay, error)
            metrics.ALERTS_SENT.labels(job.target, "retry").inc()
        with self.sessions.begin() as session:
            store.record_delivery_failure(session, job.id, error=error, http_status=http_status, retry_at=retry_at)

    # --- running in the worker ---------------------------------------------------------------

    def _safe_tick(self) -> None:
        try:
            self.tick()
        except Exception:  # a database hiccup must not end the job; the next tick retries
            log.exception("alerts tick failed")

    def start(self) -> None:
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._scheduler.add_job(self._safe_tick, IntervalTrigger(seconds=self.config.every),
                                next_run_time=utcnow(), max_instances=1, coalesce=True, id="alerts")
        self._scheduler.start()
        log.info("alerts: %d rule(s), %d webhook(s), checking every %ss", len(self.config.rules),
                 len(self.config.webhooks), self.config.every)

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self.client.close()


def retry_delay(attempt: int, config: AlertsConfig, retry_after: float | None = None) -> float:
    """Exponential backoff with ±20% jitter, never sooner than the receiver's Retry-After."""
    delay = config.backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, config.max_backoff)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def _request(job: DeliveryJob, webhook: WebhookConfig, now: datetime) -> tuple[bytes, dict[str, str]]:
    if webhook.format == "slack":
        body = messages.slack_body(job)
    elif webhook.format == "teams":
        body = messages.teams_body(job)
    else:
        body = messages.json_body(job, now)
    encoded = messages.encode(body)
    headers = {"Content-Type": "application/json; charset=utf-8",
               messages.DELIVERY_HEADER: str(job.id)}
    if webhook.secret is not None:
        headers[messages.SIGNATURE_HEADER] = messages.sign(encoded, webhook.secret.get_secret_value())
    return encoded, headers

"""When a source is next due: its policy, the server's hints, backoff and jitter."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from apscheduler.triggers.cron import CronTrigger

from intel.settings import SchedulerConfig
from models.values import SourceState

JITTER_FRACTION = 0.1
MAX_JITTER_SECONDS = 120.0


def policy_interval(state: SourceState, now: datetime, policy: SchedulerConfig) -> float:
    """Seconds until the source's own schedule (`every` or `cron`) fires next."""
    if state.cron:
        fire = CronTrigger.from_crontab(state.cron, timezone=timezone.utc).get_next_fire_time(None, now)
        return max(1.0, (fire - now).total_seconds()) if fire else policy.max_interval
    return state.every_seconds or policy.default_every


def next_check_after_success(state: SourceState, now: datetime, policy: SchedulerConfig,
                             server_min_interval: float | None = None,
                             rng: random.Random | None = None) -> datetime:
    interval = max(policy_interval(state, now, policy), server_min_interval or 0.0)
    interval = min(interval, policy.max_interval)
    return now + timedelta(seconds=interval + _jitter(interval, state.cron, rng))


def next_check_after_failure(state: SourceState, now: datetime, policy: SchedulerConfig,
                             retry_after: float | None = None,
                             rng: random.Random | None = None) -> datetime:
    """Exponential backoff on consecutive errors, never sooner than Retry-After asks."""
    failures = state.error_count + 1
    interval = min(policy.max_backoff, policy_interval(state, now, policy) * 2 ** (failures - 1))
    # Never sooner than Retry-After asks, never later than the configured maximum.
    interval = min(max(interval, retry_after or 0.0), policy.max_backoff)
    return now + timedelta(seconds=interval + _jitter(interval, None, rng))


def _jitter(interval: float, cron: str | None, rng: random.Random | None) -> float:
    # Cron schedules mean "at this time"; only interval schedules are spread out.
    if cron:
        return 0.0
    return (rng or random).uniform(0, min(interval * JITTER_FRACTION, MAX_JITTER_SECONDS))

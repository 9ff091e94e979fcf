"""When sources are next due: policy, server hints, backoff, cron."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from intel.schedule import next_check_after_failure, next_check_after_success
from intel.settings import SchedulerConfig
from models.values import SourceState

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
POLICY = SchedulerConfig(default_every="30m", max_interval="1d", max_backoff="6h")


def state(**changes) -> SourceState:
    values = dict(id="s", kind="rss", url="https://x.example.com/", visibility="external", settings={},
                  every_seconds=1800.0, cron=None, etag=None, last_modified=None, error_count=0)
    values.update(changes)
    return SourceState(**values)


def minutes_until(when: datetime) -> float:
    return (when - NOW).total_seconds() / 60


def test_success_waits_the_configured_interval_plus_bounded_jitter():
    delays = [minutes_until(next_check_after_success(state(), NOW, POLICY, rng=random.Random(seed)))
              for seed in range(20)]
    assert all(30 <= d <= 32 for d in delays)
    assert len(set(delays)) > 1  # spread out, so a thousand sources don't all poll at once


def test_server_max_age_stretches_but_never_beyond_the_maximum():
    assert 120 <= minutes_until(next_check_after_success(state(), NOW, POLICY, server_min_interval=7200)) <= 122
    assert minutes_until(next_check_after_success(state(), NOW, POLICY, server_min_interval=10 ** 7)) <= 24 * 60 + 2


def test_consecutive_failures_back_off_exponentially_up_to_the_cap():
    delays = [minutes_until(next_check_after_failure(state(error_count=n), NOW, POLICY, rng=random.Random(1)))
              for n in range(6)]
    assert [round(d / 30) for d in delays[:4]] == [1, 2, 4, 8]
    assert all(later >= earlier for earlier, later in zip(delays, delays[1:]))
    assert delays[-1] <= 6 * 60 + 2


def test_retry_after_is_honoured_even_on_the_first_failure():
    when = next_check_after_failure(state(), NOW, POLICY, retry_after=3 * 3600)
    assert minutes_until(when) >= 180


def test_cron_sources_run_at_their_time_without_jitter():
    when = next_check_after_success(state(every_seconds=None, cron="15 7 * * mon-fri"), NOW, POLICY)
    assert when == datetime(2026, 11, 24, 7, 15, tzinfo=timezone.utc)  # NOW is a Monday noon


def test_default_interval_applies_when_a_source_sets_none():
    when = next_check_after_success(state(every_seconds=None), NOW, POLICY, rng=random.Random(3))
    assert timedelta(minutes=30) <= when - NOW <= timedelta(minutes=32)

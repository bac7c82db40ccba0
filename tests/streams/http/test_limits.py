"""Per-device token buckets and the event-time window, with an injected clock."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from schemas.fields import FieldError
from schemas.records import ping_batch
from streams.geofence.geofencer import reason_label
from streams.http.limits import DeviceRateLimit, EventTimeWindow, RateLimited, TokenBuckets
from streams.http.refusal import Refused
from tests.support import factories


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_a_burst_passes_then_the_rate_holds(clock):
    buckets = TokenBuckets(rate=2.0, burst=5, max_keys=100, clock=clock)
    assert [buckets.take("dev-1") for _ in range(5)] == [0.0] * 5
    assert buckets.take("dev-1") == pytest.approx(0.5)  # one token comes back every 1/rate s
    clock.now += 0.5
    assert buckets.take("dev-1") == 0.0
    assert buckets.take("dev-1") == pytest.approx(0.5)
    assert buckets.take("dev-2") == 0.0  # each device has its own bucket


def test_a_refused_request_takes_nothing(clock):
    buckets = TokenBuckets(rate=1.0, burst=1, max_keys=100, clock=clock)
    assert buckets.take("d") == 0.0
    clock.now += 0.25
    assert buckets.take("d") == pytest.approx(0.75)
    clock.now += 0.25
    assert buckets.take("d") == pytest.approx(0.5)  # the refusal did not push the next token further away
    clock.now += 0.5
    assert buckets.take("d") == 0.0


def test_sustained_rate_over_a_minute_is_the_configured_rate(clock):
    buckets = TokenBuckets(rate=3.0, burst=10, max_keys=10, clock=clock)
    accepted = 0
    for _ in range(6000):  # a request every 10 ms for a minute
        accepted += buckets.take("busy") == 0.0
        clock.now += 0.01
    assert accepted == pytest.approx(10 + 3 * 60, abs=1)


def test_idle_buckets_are_forgotten_and_memory_stays_bounded(clock):
    buckets = TokenBuckets(rate=1.0, burst=10, max_keys=1000, clock=clock)
    for i in range(500):
        buckets.take(f"dev-{i}")
    assert len(buckets) == 500
    clock.now += 10  # burst / rate: every bucket is full again, the same as no bucket
    buckets.take("late")
    assert len(buckets) == 1
    for i in range(50_000):  # more devices than max_keys within the refill time
        buckets.take(f"flood-{i}")
    assert len(buckets) == 1000


def test_a_forgotten_idle_bucket_changes_no_answer(clock):
    buckets = TokenBuckets(rate=1.0, burst=2, max_keys=100, clock=clock)
    buckets.take("d")
    buckets.take("d")
    clock.now += 2.0
    buckets.take("other")  # forgets "d", which is full again
    assert [buckets.take("d"), buckets.take("d")] == [0.0, 0.0]
    assert buckets.take("d") == pytest.approx(1.0)


def test_rate_limited_names_the_device_the_limit_and_when_to_retry(clock):
    limit = DeviceRateLimit(rate=0.5, burst=1, max_devices=10, clock=clock)
    limit.check("dev-7")
    with pytest.raises(RateLimited) as refused:
        limit.check("dev-7")
    error = refused.value
    assert error.status == 429 and error.labels == ["rate_limited"]
    assert error.headers == {"Retry-After": "2"}
    assert error.extra == {
        "device": "dev-7",
        "limit": {"requests_per_second": 0.5, "burst": 1},
        "retry_after_seconds": 2.0,
    }
    assert error.errors[0].field == "device" and "dev-7" in error.errors[0].reason
    assert "0.5 requests per second" in error.errors[0].reason


def test_retry_after_is_a_whole_number_of_seconds_at_least_one(clock):
    limit = DeviceRateLimit(rate=100.0, burst=1, max_devices=10, clock=clock)
    limit.check("d")
    with pytest.raises(RateLimited) as refused:
        limit.check("d")
    assert refused.value.headers == {"Retry-After": "1"}


def test_rate_zero_means_no_limit(clock):
    limit = DeviceRateLimit(rate=0, burst=1, max_devices=10, clock=clock)
    for _ in range(1000):
        limit.check("d")


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def window():
    return EventTimeWindow(max_future_seconds=3600, max_age_days=30, now=lambda: NOW)


def test_event_times_near_now_pass_in_any_offset(window):
    window.check(
        enumerate(
            [
                (NOW + timedelta(minutes=59)).isoformat(),
                "2026-11-28T19:30:00+08:00",
                (NOW - timedelta(days=29)).isoformat(),
            ]
        ),
        lambda i: "t",
    )


@pytest.mark.parametrize(
    "when, words",
    [
        (NOW + timedelta(hours=2), "more than 3600 s ahead of the server's time"),
        (NOW - timedelta(days=31), "more than 30 days before the server's time"),
    ],
)
def test_event_times_far_from_now_are_refused_naming_the_field(window, when, words):
    batch = {"device": "d", "pings": [{"time": NOW.isoformat()}, {"time": when.isoformat()}]}
    with pytest.raises(Refused) as refused:
        window.check_pings(batch)
    assert refused.value.status == 422
    error = refused.value.errors[0]
    assert error.field == "pings.1.time" and words in error.reason
    assert reason_label(error) == "pings.*.time"


def test_every_time_outside_the_window_is_named():
    window = EventTimeWindow(max_future_seconds=3600, max_age_days=30, now=lambda: NOW)
    far = (NOW + timedelta(hours=2)).isoformat()
    batch = {"device": "d", "pings": [{"time": far}, {"time": NOW.isoformat()}, {"time": far}]}
    with pytest.raises(Refused) as refused:
        window.check_pings(batch)
    assert [e.field for e in refused.value.errors] == ["pings.0.time", "pings.2.time"]
    assert refused.value.reasons() == ["pings.*.time"]  # counted once per refusal


def test_in_a_record_refused_by_validation_its_valid_times_are_still_checked():
    """So one refusal names the out-of-window times with the schema's errors; malformed ones are the schema's."""
    window = EventTimeWindow(max_future_seconds=3600, max_age_days=30, now=lambda: NOW)
    far = (NOW + timedelta(hours=2)).isoformat()
    raw = {"device": "d", "pings": [{"time": far}, {"time": "soon"}, 7, {"time": NOW.isoformat()}, {"time": far}]}
    assert [e.field for e in window.ping_errors(raw)] == ["pings.0.time", "pings.4.time"]
    assert window.ping_errors({"pings": "none"}) == window.ping_errors([]) == []
    assert [e.field for e in window.report_errors({"event_time": far})] == ["event_time"]
    assert window.report_errors({"event_time": 1}) == window.report_errors("x") == []


def test_report_times_are_named_by_their_place_in_an_array(window):
    reports = [{"event_time": NOW.isoformat()}, {"event_time": "2020-01-01T00:00:00Z"}]
    with pytest.raises(Refused) as refused:
        window.check_reports(reports, indexed=True)
    assert refused.value.errors[0].field == "1.event_time"
    with pytest.raises(Refused) as refused:
        window.check_reports(reports[1:], indexed=False)
    assert refused.value.errors[0].field == "event_time"


@pytest.mark.parametrize(
    "field, reason, label",
    [
        ("pings.17.lat", "must be between", "pings.*.lat"),
        ("42.event_time", "is required", "*.event_time"),
    ],
)
def test_metric_reasons_fold_list_indexes(field, reason, label):
    assert reason_label(FieldError(field, reason)) == label


@pytest.mark.parametrize(
    "where, key, label",
    [
        ("ping", "x-evil-1", "pings.*.(unknown)"),
        ("ping", "1.2", "pings.*.(unknown)"),  # a made-up key with dots or digits is still one unknown
        ("batch", "r4nd0m.k", "(unknown)"),
        ("batch", "DROP TABLE", "(unknown)"),
    ],
)
def test_metric_reasons_stay_bounded_whatever_keys_the_sender_makes_up(where, key, label):
    batch = factories.ping_batch(random.Random(1), "dev-1", 5)
    (batch["pings"][3] if where == "ping" else batch)[key] = 1
    with pytest.raises(FieldError) as error:
        ping_batch(10).validate(batch)
    assert error.value.field.endswith(key)  # the answer to the sender names its key
    assert reason_label(error.value) == label

"""Limits on what comes in over HTTP: a per-device request rate (token buckets in bounded memory) and
event times near now. The body size is capped where the body is read (`streams.http.ingest.read_json`)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from schemas.fields import MAX_ERRORS, FieldError, Time
from streams.http.refusal import Refused

_TIME = Time()


class TokenBuckets:
    """One bucket per key: `rate` tokens a second, at most `burst` held; each request takes one.

    Memory stays bounded: a bucket left alone long enough to be full again is the same as no
    bucket, so it is dropped; and past `max_keys` buckets the least recently used go first.
    """

    def __init__(self, rate: float, burst: int, max_keys: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.max_keys, self.clock = rate, burst, max_keys, clock
        self.refill_seconds = burst / rate
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, when), oldest first

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str) -> float:
        """0 when `key` had a token (now taken); else the seconds until it will have one (nothing taken)."""
        now = self.clock()
        self._forget_idle(now)
        tokens, then = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1 if wait == 0 else tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait

    def _forget_idle(self, now: float) -> None:
        # Buckets are kept in the order they were last touched, so the idle ones are all at the front.
        buckets = self._buckets
        while buckets:
            key, (_, then) = next(iter(buckets.items()))
            if now - then < self.refill_seconds:
                return
            del buckets[key]


class RateLimited(Refused):
    """429 for a device over its rate: the body names the device and the limit, Retry-After says when."""

    def __init__(self, device: str, rate: float, burst: int, wait: float):
        retry_after = max(1, math.ceil(wait))
        reason = (
            f"device {device} is over its limit of {rate:g} requests per second (bursts of {burst}): "
            f"retry after {retry_after} s"
        )
        super().__init__(
            429,
            [FieldError("device", reason)],
            labels=["rate_limited"],
            title="too many requests",
            headers={"Retry-After": str(retry_after)},
            extra={
                "device": device,
                "limit": {"requests_per_second": rate, "burst": burst},
                "retry_after_seconds": round(wait, 3),
            },
        )


class DeviceRateLimit:
    """The per-device limit of one worker process (each worker counts its own requests)."""

    def __init__(self, rate: float, burst: int, max_devices: int, clock: Callable[[], float] = time.monotonic):
        self.buckets = TokenBuckets(rate, burst, max_devices, clock) if rate > 0 else None

    @classmethod
    def from_settings(cls, settings) -> DeviceRateLimit:
        return cls(settings.device_rate_per_second, settings.device_burst, settings.rate_limit_max_devices)

    def check(self, device: str) -> None:
        """Take one request from `device`'s bucket, or raise RateLimited."""
        if self.buckets is None:
            return
        wait = self.buckets.take(device)
        if wait > 0:
            raise RateLimited(device, self.buckets.rate, self.buckets.burst, wait)


class EventTimeWindow:
    """Event times must lie within [now - max age, now + max future]: far off means a broken clock or a forgery."""

    def __init__(
        self, max_future_seconds: float, max_age_days: float, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ):
        self.ahead, self.behind, self.now = timedelta(seconds=max_future_seconds), timedelta(days=max_age_days), now

    @classmethod
    def from_settings(cls, settings) -> EventTimeWindow:
        return cls(settings.ingest_max_future_seconds, settings.ingest_max_age_days)

    def outside(self, times: Iterable[tuple[int, str]], field: Callable[[int], str]) -> list[FieldError]:
        """An error for each (i, RFC 3339 text, already valid) outside the window, naming `field(i)` (built only
        then: this runs for every ping). Compared as UTC, whatever the offsets."""
        now = self.now()
        earliest, latest = (now - self.behind).astimezone(UTC), (now + self.ahead).astimezone(UTC)
        errors = []
        for i, text in times:
            when = datetime.fromisoformat(text).astimezone(UTC)
            if not earliest <= when <= latest:
                reason = (
                    f"{text} is more than {_span(self.ahead if when > now else self.behind)} "
                    f"{'ahead of' if when > now else 'before'} the server's time {now.isoformat(timespec='seconds')}"
                )
                errors.append(FieldError(field(i), reason))
        return errors

    def check(self, times: Iterable[tuple[int, str]], field: Callable[[int], str]) -> None:
        """422 naming every time outside the window."""
        errors = self.outside(times, field)
        if errors:
            raise Refused(422, errors[:MAX_ERRORS])

    def check_reports(self, reports: list[dict], indexed: bool) -> None:
        self.check(
            enumerate(r["event_time"] for r in reports), "{}.event_time".format if indexed else _unindexed_event_time
        )

    def check_pings(self, batch: dict) -> None:
        self.check(enumerate(p["time"] for p in batch["pings"]), "pings.{}.time".format)

    # For a record validation refused: its valid times outside the window, named in the same refusal.
    def report_errors(self, report) -> list[FieldError]:
        text = report.get("event_time") if type(report) is dict else None
        return self.outside(_valid_times([text]), _unindexed_event_time)

    def ping_errors(self, batch) -> list[FieldError]:
        pings = batch.get("pings") if type(batch) is dict else None
        texts = [p.get("time") if type(p) is dict else None for p in pings] if type(pings) is list else []
        return self.outside(_valid_times(texts), "pings.{}.time".format)


def _unindexed_event_time(i: int) -> str:
    return "event_time"


def _valid_times(texts: list) -> Iterable[tuple[int, str]]:
    return ((i, text) for i, text in enumerate(texts) if not _TIME.errors(text))


def _span(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds / 86400:g} days" if seconds >= 86400 else f"{seconds:g} s"

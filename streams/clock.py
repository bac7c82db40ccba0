"""Injectable clocks: wall time in production, event time for replays and time-travelling tests.

Detectors take `now` from a clock and never call `datetime.now()` themselves, so unit tests pass a
clock they set by hand (tests/support/clock.py) and a worker started with `REDWALL_CLOCK=event` runs
on the newest event time seen.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime | None:
        """The current time (UTC, aware); None when an event clock has seen no event yet."""

    def observe(self, when: datetime) -> None:
        """An event with this time was seen; only an event clock moves with it."""


class SystemClock:
    """Wall time. Observing events changes nothing."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def observe(self, when: datetime) -> None:
        return None


class EventClock:
    """Now is the newest event time observed by this process; it never runs backwards.

    Silence does not advance it: a timer fires only when newer events move it past a deadline,
    which is what makes a replay, or a test that produces a whole shift in seconds, deterministic.
    """

    def __init__(self) -> None:
        self._now: datetime | None = None

    def now(self) -> datetime | None:
        return self._now

    def observe(self, when: datetime) -> None:
        if self._now is None or when > self._now:
            self._now = when


def from_settings(settings) -> Clock:
    """The clock `REDWALL_CLOCK` names; Settings.validate has already refused anything else."""
    return EventClock() if settings.clock == "event" else SystemClock()


def stop_on_signals(duration: float | None = None) -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (or once `duration` seconds have passed): how every `redwall`
    process is told to stop, finishing what it holds first. Call it inside the running loop."""
    stop, loop = asyncio.Event(), asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if duration:
        loop.call_later(duration, stop.set)
    return stop


async def stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait `seconds`, or less if `stop` is set meanwhile; True when stopped. The pause of every
    periodic loop and retry backoff, so each ends at once on shutdown."""
    try:
        await asyncio.wait_for(stop.wait(), max(seconds, 0))
    except TimeoutError:
        return False
    return True

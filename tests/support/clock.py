"""A clock for tests: the `streams.clock.Clock` a test sets or advances by hand, to travel in time."""

from __future__ import annotations

from datetime import datetime, timedelta


class ManualClock:
    """Set or advanced by hand; it ignores the events it is shown."""

    def __init__(self, start: datetime):
        self._now = start

    def now(self) -> datetime:
        return self._now

    def observe(self, when: datetime) -> None:
        return None

    def set(self, when: datetime) -> None:
        self._now = when

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

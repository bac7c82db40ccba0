"""GPS quality: which fixes may drive a patrol decision, and why the others may not. Pure, no I/O.

A refused fix is still stored (the positions sink keeps every fix) and flagged with its reason;
it only never moves a device's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from config.crs import distance_m as metres_between

# Reasons, in the order they are checked: the first that applies is the one counted.
FUTURE, STALE, DUPLICATE, OUT_OF_ORDER, POOR_ACCURACY, IMPOSSIBLE_SPEED = (
    "future",
    "stale",
    "duplicate",
    "out_of_order",
    "poor_accuracy",
    "impossible_speed",
)
REASONS = (FUTURE, STALE, DUPLICATE, OUT_OF_ORDER, POOR_ACCURACY, IMPOSSIBLE_SPEED)


class Fix(NamedTuple):
    """A good fix: the last one a device's decisions were based on."""

    time: datetime
    lat: float
    lng: float
    accuracy: float


@dataclass(frozen=True)
class Quality:
    max_accuracy_m: float = 50.0
    max_speed_mps: float = 50.0  # faster than any car in the old city: a jump beyond it is a bad fix
    future: timedelta = timedelta(seconds=120)
    max_age: timedelta = timedelta(seconds=900)

    @classmethod
    def from_settings(cls, settings) -> Quality:
        return cls(
            settings.gps_max_accuracy_m,
            settings.gps_max_speed_mps,
            timedelta(seconds=settings.gps_future_seconds),
            timedelta(seconds=settings.gps_max_age_seconds),
        )

    def check(self, fix: Fix, last: Fix | None, now: datetime | None) -> str | None:
        """The reason this fix must not drive a decision, or None when it is good.

        `last` is the device's last good fix; `now` None (an event clock before any event) skips
        the checks against the clock.
        """
        if now is not None:
            if fix.time > now + self.future:
                return FUTURE
            if fix.time < now - self.max_age:
                return STALE
        if last is not None:
            if fix.time == last.time:
                return DUPLICATE
            if fix.time < last.time:
                return OUT_OF_ORDER
        if fix.accuracy > self.max_accuracy_m:
            return POOR_ACCURACY
        if last is not None:
            # The two fixes' own uncertainty is allowed for, so a jittery fix a second after the
            # last is not taken for a teleport.
            seconds = (fix.time - last.time).total_seconds()
            if distance_m(last, fix) - fix.accuracy - last.accuracy > self.max_speed_mps * seconds:
                return IMPOSSIBLE_SPEED
        return None


def distance_m(a: Fix, b: Fix) -> float:
    return metres_between(a.lat, a.lng, b.lat, b.lng)

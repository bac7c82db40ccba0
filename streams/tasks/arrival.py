"""The dwell rule: when a worker's own fixes confirm the arrival at a task's place. Pure, no I/O.

A fix counts as inside when its accuracy is at most `poor_accuracy_m` and either the task names a courtyard
and the geofence put the fix in it, or the fix lies within the task's radius of its point, widened by the
fix's accuracy up to `accuracy_cap_m`. A poorer fix counts neither way: it neither arrives nor breaks a run.
The arrival is an unbroken run of inside fixes (consecutive ones at most `gap` apart, no outside fix
between) whose first and last are `dwell` or more apart; it is dated by the run's first fix, when the
worker got there. Fixes from before the task was created, and fixes older than one already looked at
(a late batch), do not count.

The run lives in memory only, not in the task's state: a worker rebuilt from the task events starts each
run again from its next fix, so an arrival under way at a restart is confirmed one dwell later.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from config.tasks import ArrivalRule
from streams.patrol.gps_quality import Fix, distance_m


class Dwell:
    """One task's run of inside fixes, fed one fix at a time, in time order."""

    def __init__(self, place: Mapping, since: datetime, rule: ArrivalRule):
        location = place["location"]
        self.centre = Fix(since, location["lat"], location["lng"], 0.0)
        self.radius_m = float(place["radius_m"])
        self.courtyard = place.get("courtyard")
        self.since = since
        self.rule = rule
        self.first: datetime | None = None  # the run's first and last inside fix
        self.last: datetime | None = None
        self.seen: datetime | None = None  # the newest fix looked at

    def inside(self, fix: Mapping, when: datetime) -> bool | None:
        """Whether the fix is inside the place; None when it is too poor to say."""
        accuracy = fix["accuracy"]
        if accuracy > self.rule.poor_accuracy_m:
            return None
        if self.courtyard is not None and fix.get("courtyard") == self.courtyard:
            return True
        reach = self.radius_m + min(accuracy, self.rule.accuracy_cap_m)
        return distance_m(self.centre, Fix(when, fix["lat"], fix["lng"], accuracy)) <= reach

    def feed(self, fix: Mapping, when: datetime) -> datetime | None:
        """Look at one fix taken at `when`; the arrival time once the run is long enough, else None."""
        if when < self.since or (self.seen is not None and when <= self.seen):
            return None
        inside = self.inside(fix, when)
        if inside is None:
            return None
        self.seen = when
        if not inside:
            self.first = self.last = None
            return None
        if self.last is None or when - self.last > self.rule.gap:
            self.first = when
        self.last = when
        return self.first if self.last - self.first >= self.rule.dwell else None

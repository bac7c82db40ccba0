"""Patrol state per device and the detector of its changes: on post, off post, offline, off duty.

Pure: `detect(state, fix, now)` updates the state in place and returns the status changes, each
stamped with the time it happened (a deadline, or a fix's time), never the time it was noticed, so a
replay or a late timer gives the same events. The caller brings the clock, the roster and the grids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from streams.patrol.gps_quality import Fix

OFF_DUTY, UNKNOWN, ON_POST, OFF_POST, OFFLINE = "off_duty", "unknown", "on_post", "off_post", "offline"
_NEVER = datetime.max.replace(tzinfo=UTC)
INSIDE, NEAR, FAR = "inside", "near", "far"  # NEAR: outside, but within the fix's accuracy plus a buffer


@dataclass(slots=True)
class DeviceState:
    device: str
    grid: str  # the assigned grid
    status: str = OFF_DUTY
    since: datetime | None = None
    last: Fix | None = None  # the last good fix
    current_grid: str | None = None  # where the last good fix lies
    duty_since: datetime | None = None
    outside_since: datetime | None = None  # first of an unbroken run of fixes far outside
    inside_since: datetime | None = None  # first of an unbroken run of fixes inside
    next_due: datetime | None = None  # the next deadline, as a timer tick found it; None: not known


class StatusChange(NamedTuple):
    device: str
    grid: str
    status: str
    previous: str
    at: datetime
    reason: str
    fix: Fix | None
    current_grid: str | None


@dataclass(frozen=True)
class Rules:
    grace: timedelta = timedelta(seconds=120)  # far outside this long: off post
    dwell: timedelta = timedelta(seconds=60)  # back inside this long: on post again
    offline: timedelta = timedelta(seconds=300)  # no good fix this long: offline
    edge_buffer_m: float = 5.0

    @classmethod
    def from_settings(cls, settings) -> Rules:
        return cls(
            timedelta(seconds=settings.patrol_grace_seconds),
            timedelta(seconds=settings.patrol_dwell_seconds),
            timedelta(seconds=settings.patrol_offline_seconds),
            settings.patrol_edge_buffer_m,
        )


class Detector:
    """`on_duty(device, when)` comes from the roster; `registry` gives distances to grid edges."""

    def __init__(self, rules: Rules, on_duty: Callable[[str, datetime], bool], registry):
        self.rules, self.on_duty, self.registry = rules, on_duty, registry

    def detect(
        self, s: DeviceState, fix: Fix | None, now: datetime, located_grid: str | None = None
    ) -> list[StatusChange]:
        """A good fix (with the grid it lies in), or None for a timer tick at `now`."""
        if fix is None:
            return self.advance(s, now)
        changes = self.advance(s, fix.time)
        s.last, s.current_grid, s.next_due = fix, located_grid, None
        if s.status != OFF_DUTY:
            changes += self._place(s, fix, self.side(s.grid, fix, located_grid))
        return changes

    def side(self, grid: str, fix: Fix, located_grid: str | None) -> str:
        """Hysteresis: a fix counts as outside only when it is beyond its accuracy plus the buffer."""
        if located_grid == grid:
            return INSIDE
        margin = fix.accuracy + self.rules.edge_buffer_m
        return FAR if self.registry.distance_to_boundary_m(grid, fix.lat, fix.lng) > margin else NEAR

    def advance(self, s: DeviceState, now: datetime) -> list[StatusChange]:
        """Apply every deadline up to `now` in time order, then the duty roster at `now`."""
        changes = []
        if s.status == OFF_DUTY:
            # A shift the timer ended (by wall time) is not started again by a late fix stamped
            # before that end: it belongs to the shift that is over, so one shift ends exactly once.
            if not self.on_duty(s.device, now) or (s.since is not None and now <= s.since):
                return changes
            s.duty_since, s.outside_since, s.inside_since = now, None, None
            changes.append(_set(s, UNKNOWN, now, "shift_started"))
        while (due := self._next_deadline(s)) is not None and due[0] <= now and self.on_duty(s.device, due[0]):
            changes.append(_set(s, due[1], due[0], due[2]))
        if not self.on_duty(s.device, now):
            changes.append(_set(s, OFF_DUTY, now, "shift_ended"))
        return changes

    def quiet_until(self, s: DeviceState) -> datetime:
        """Until when a tick on a device still on duty can change nothing (datetime.max: no deadline);
        kept in the state until it changes, so a tick over 100,000 devices mostly compares two times."""
        if s.next_due is None:
            due = self._next_deadline(s)
            s.next_due = due[0] if due is not None else _NEVER
        return s.next_due

    def _next_deadline(self, s: DeviceState) -> tuple[datetime, str, str] | None:
        heard = max(s.duty_since or s.since, s.last.time if s.last is not None else s.since)
        due = [] if s.status == OFFLINE else [(heard + self.rules.offline, OFFLINE, "silent")]
        if s.status in (ON_POST, UNKNOWN) and s.outside_since is not None:
            due.append((s.outside_since + self.rules.grace, OFF_POST, "outside_grid"))
        if s.status == OFF_POST and s.inside_since is not None:
            due.append((s.inside_since + self.rules.dwell, ON_POST, "back_inside"))
        return min(due, default=None)

    def _place(self, s: DeviceState, fix: Fix, side: str) -> list[StatusChange]:
        if side == INSIDE:
            s.outside_since, s.inside_since = None, s.inside_since or fix.time
        elif side == FAR:
            s.outside_since, s.inside_since = s.outside_since or fix.time, None
        else:  # too close to tell: neither run goes on, so neither the grace nor the dwell ends
            s.outside_since = s.inside_since = None
        if s.status == UNKNOWN and side != FAR:
            return [_set(s, ON_POST, fix.time, "first_fix_inside")]
        if s.status == OFFLINE:
            # Back after silence: where it is now decides at once; the grace was for short trips.
            return [_set(s, OFF_POST if side == FAR else ON_POST, fix.time, "back_online")]
        return []


def _set(s: DeviceState, status: str, at: datetime, reason: str) -> StatusChange:
    if s.since is not None and at < s.since:
        # A timer on a clock moved on by other partitions may have changed the state ahead of this
        # device's own fixes; a device's changes never go back in time, so stores ordering by time
        # and consumers ordering by offset agree on its latest status.
        at = s.since
    change = StatusChange(s.device, s.grid, status, s.status, at, reason, s.last, s.current_grid)
    s.status, s.since, s.next_due = status, at, None
    if status == OFF_DUTY:
        s.outside_since = s.inside_since = None
    return change

"""The patrol monitor's work without Faust: position batches and ticks in, patrol records out.

`streams/patrol/agents.py` wires it to agents and timers; the benchmark drives the same code. It holds the
state of the devices in the partitions this worker owns, in the `device_to_patrol_state` table's store
(a dict without Faust), rebuilt from Postgres when they change.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime

from config.major_events import MajorEvents
from config.roster import EMPTY, Roster
from schemas import json
from streams.patrol import table as patrol_table
from streams.patrol.detector import OFF_DUTY, Detector, DeviceState, Rules, StatusChange
from streams.patrol.gps_quality import Fix, Quality
from streams.produce import Out

log = logging.getLogger(__name__)


class PatrolMonitor:
    """`states`: the table's store (a plain dict when there is no Faust); `changelog`: its topic, if any;
    `partition_of(device)`: the device's partition of the positions topic, which its changelog follows."""

    def __init__(
        self,
        settings,
        registry,
        clock,
        states: MutableMapping | None = None,
        changelog: str | None = None,
        partition_of: Callable[[str], int] | None = None,
    ):
        self.settings, self.registry, self.clock = settings, registry, clock
        self.roster: Roster = EMPTY
        self.events = MajorEvents(())
        self.quality = Quality.from_settings(settings)
        self.detector = Detector(Rules.from_settings(settings), self.on_duty, registry)
        self.states: MutableMapping[str, DeviceState] = {} if states is None else states
        self._grid_ids = {g: g for g in registry.grids}
        self._street_of = {g: registry.geometry.street_of(g) for g in registry.grids}
        self.changelog, self.partition_of = changelog, partition_of
        # Both counters are drained into metrics, by street: the street of the device's assigned grid.
        self.pings = Counter()  # (street, outcome) -> pings: good, unrostered, or a GPS quality reason
        self.statuses = Counter()  # (street, new status) -> changes
        # Devices whose status changed since the last changelog write, with their partition when known.
        self.changed: dict[str, int | None] = {}

    def on_duty(self, device: str, when: datetime) -> bool:
        return self.roster.on_duty(device, when)

    def required(self, grid: str, when: datetime) -> int:
        return max((p.required_on_post(grid) for p in self.events.active(when)), default=0)

    def positions(self, value: bytes, partition: int | None = None) -> list[Out]:
        """One PositionBatch (geofenced by the worker, so already valid): status changes and GPS flags."""
        batch = json.loads(value)
        worker = self.roster.workers.get(batch["device"])
        if worker is None:  # no assigned grid: the street each ping lies in ("" outside every street)
            self.pings.update((p.get("street") or "", "unrostered") for p in batch["pings"])
            return []
        device = worker.device  # the roster's string: one copy per device, whatever the batches bring
        state = self.state(device, worker.grid)
        now, last, changes, flags = self.clock.now(), state.last, [], []
        street = self._street_of.get(worker.grid, "")
        for p in batch["pings"]:
            fix = Fix(datetime.fromisoformat(p["time"]), p["lat"], p["lng"], p["accuracy"])
            reason = self.quality.check(fix, last, now)
            self.pings[street, reason or "good"] += 1
            if reason is not None:
                flags.append({"time": p["time"], "reason": reason})
                continue
            last = fix
            changes += self.detector.detect(state, fix, fix.time, p.get("grid"))
        if last is not None:
            self.clock.observe(last.time)
            # The registry's string for the grid rather than the one parsed from this batch: one copy.
            state.current_grid = self._grid_ids.get(state.current_grid, state.current_grid)
        if changes:
            self.changed[device] = partition
        return self.changes(changes) + self._flags(device, worker.grid, flags)

    def tick(self, devices, now: datetime) -> list[Out]:
        """Deadlines and the roster at `now` for these devices (silence sends no message). Only devices
        whose duty changes at `now` or whose next deadline has come are looked at closely."""
        changes, duty = [], {}  # shifts -> on duty at `now`: asked once per set of shifts, not per device
        for device in devices:
            worker = self.roster.workers.get(device)
            if worker is None:
                continue
            state = self.state(device, worker.grid)
            on = duty.get(worker.shifts)
            if on is None:
                on = duty[worker.shifts] = self.on_duty(device, now)
            if (state.status == OFF_DUTY) != on and (not on or now < self.detector.quiet_until(state)):
                continue
            found = self.detector.detect(state, None, now)
            if found:
                changes += found
                self.changed.setdefault(device, None)
        return self.changes(changes)

    def state(self, device: str, grid: str) -> DeviceState:
        state = self.states.get(device)
        if state is None:
            state = self.states[device] = DeviceState(device, grid)
        elif type(state) is bytes:  # recovered from the changelog after the last rebuild: decoded once
            state = self.states[device] = patrol_table.recovered(device, state, grid) or DeviceState(device, grid)
        elif state.grid != grid:  # reassigned in the roster: the new grid counts from the next fix
            state.grid, state.outside_since, state.inside_since, state.next_due = grid, None, None, None
        return state

    def changes(self, changes: list[StatusChange]) -> list[Out]:
        self.statuses.update((self._street_of.get(c.grid, ""), c.status) for c in changes)
        return [Out(self.settings.topic_patrol, c.grid.encode(), json.dumps(status_record(c))) for c in changes]

    def _flags(self, device: str, grid: str, flags: list[dict]) -> list[Out]:
        if not flags:
            return []
        flagged = {"type": "gps_flags", "device": device, "flags": flags}
        return [Out(self.settings.topic_patrol, grid.encode(), json.dumps(flagged))]

    def unsettled(self, devices) -> list[str]:
        """Devices without a live state: none yet, or only what the changelog recovery left."""
        return [d for d in devices if type(self.states.get(d)) is not DeviceState]

    def restore(self, devices: list[str], rows: list[dict]) -> None:
        """States for devices this worker now owns: Postgres (`sinks.patrol.device_states`, what the sink
        wrote) and what the changelog recovery left, the newer of the two where both have the device."""
        workers, found = self.roster.workers, {}
        for device in devices:
            value = self.states.get(device)
            if type(value) is bytes and (state := patrol_table.recovered(device, value, workers[device].grid)):
                found[device] = state
        for row in rows:
            worker = workers.get(row["device"])
            if worker is not None:
                found[worker.device] = patrol_table.newest(
                    found.get(worker.device), patrol_table.from_row(row, worker.grid)
                )
        for device, state in found.items():
            self.states[workers[device].device] = state

    def forget(self, keep) -> None:
        """Drop the state of devices whose partitions moved to another worker (no changelog record:
        the new owner goes on from it)."""
        for device in [d for d in self.states if not keep(d)]:
            del self.states[device]

    def changelog_records(self) -> list[Out]:
        """The table's changelog records for devices whose status changed: once per device per batch."""
        out = []
        if self.changelog is not None:
            for device, partition in self.changed.items():
                state = self.states.get(device)
                if type(state) is DeviceState:
                    if partition is None and self.partition_of is not None:
                        partition = self.partition_of(device)
                    out.append(Out(self.changelog, json.dumps(device), patrol_table.encode(state), partition))
        self.changed.clear()
        return out


def status_record(c: StatusChange) -> dict:
    record = {
        "type": "status",
        "id": f"{c.device}:{c.status}:{c.at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}",
        "device": c.device,
        "grid": c.grid,
        "status": c.status,
        "previous": c.previous,
        "reason": c.reason,
        "event_time": c.at.isoformat(),
    }
    if c.current_grid is not None:
        record["current_grid"] = c.current_grid
    if c.fix is not None:
        record["fix"] = {"time": c.fix.time.isoformat(), "lat": c.fix.lat, "lng": c.fix.lng, "accuracy": c.fix.accuracy}
    return record

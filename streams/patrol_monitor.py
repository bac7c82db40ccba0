"""The patrol monitor's work without Faust: position batches and ticks in, patrol records out.

`streams/patrol.py` wires it to agents and timers; the benchmark drives the same code. It holds the
state of the devices in the partitions this worker owns, rebuilt from Postgres when they change.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timezone
from typing import NamedTuple

from config.major_events import MajorEvents
from config.roster import EMPTY, Roster
from schemas import json
from streams.gps_quality import Fix, Quality
from streams.patrol_state import OFF_DUTY, Detector, DeviceState, Rules, StatusChange

log = logging.getLogger(__name__)


class Out(NamedTuple):
    topic: str
    key: bytes
    value: bytes


class PatrolMonitor:
    def __init__(self, settings, registry, clock):
        self.settings, self.registry, self.clock = settings, registry, clock
        self.roster: Roster = EMPTY
        self.events = MajorEvents(())
        self.quality = Quality.from_settings(settings)
        self.detector = Detector(Rules.from_settings(settings), self.on_duty, registry)
        self.states: dict[str, DeviceState] = {}
        self.pings = Counter()  # outcome -> pings: good, unrostered, or a GPS quality reason
        self.changed: set[str] = set()  # devices whose status changed since the last snapshot

    def on_duty(self, device: str, when: datetime) -> bool:
        return self.roster.on_duty(device, when)

    def required(self, grid: str, when: datetime) -> int:
        return max((p.required_on_post(grid) for p in self.events.active(when)), default=0)

    def positions(self, value: bytes) -> list[Out]:
        """One PositionBatch (geofenced by the worker, so already valid): status changes and GPS flags."""
        batch = json.loads(value)
        device = batch["device"]
        worker = self.roster.workers.get(device)
        if worker is None:
            self.pings["unrostered"] += len(batch["pings"])
            return []
        state = self.state(device, worker.grid)
        now, last, changes, flags = self.clock.now(), state.last, [], []
        for p in batch["pings"]:
            fix = Fix(datetime.fromisoformat(p["time"]), p["lat"], p["lng"], p["accuracy"])
            reason = self.quality.check(fix, last, now)
            self.pings[reason or "good"] += 1
            if reason is not None:
                flags.append({"time": p["time"], "reason": reason})
                continue
            last = fix
            changes += self.detector.detect(state, fix, fix.time, p.get("grid"))
        if last is not None:
            self.clock.observe(last.time)
        return self.changes(changes) + self._flags(device, worker.grid, flags)

    def tick(self, devices, now: datetime) -> list[Out]:
        """Deadlines and the roster at `now` for these devices (silence sends no message)."""
        changes = []
        for device in devices:
            worker = self.roster.workers.get(device)
            if worker is not None:
                changes += self.detector.detect(self.state(device, worker.grid), None, now)
        return self.changes(changes)

    def state(self, device: str, grid: str) -> DeviceState:
        state = self.states.get(device)
        if state is None:
            state = self.states[device] = DeviceState(device, grid)
        elif state.grid != grid:  # reassigned in the roster: the new grid counts from the next fix
            state.grid, state.outside_since, state.inside_since = grid, None, None
        return state

    def changes(self, changes: list[StatusChange]) -> list[Out]:
        self.changed.update(c.device for c in changes)
        return [Out(self.settings.topic_patrol, c.grid.encode(), json.dumps(status_record(c))) for c in changes]

    def _flags(self, device: str, grid: str, flags: list[dict]) -> list[Out]:
        if not flags:
            return []
        record = {"type": "gps_flags", "device": device, "flags": flags}
        return [Out(self.settings.topic_patrol, grid.encode(), json.dumps(record))]

    def restore(self, rows: list[dict]) -> None:
        """States from Postgres (`sinks.patrol.device_states`), for devices this worker now owns."""
        for row in rows:
            worker = self.roster.workers.get(row["device"])
            if worker is None or row["device"] in self.states:
                continue
            state = self.states[row["device"]] = DeviceState(row["device"], worker.grid, row["status"], row["since"])
            if row["fix_time"] is not None:
                state.last = Fix(row["fix_time"], row["lat"], row["lng"], row["accuracy"])
                state.current_grid = row["current_grid"]
            state.duty_since = None if row["status"] == OFF_DUTY else row["since"]

    def forget(self, keep) -> None:
        """Drop the state of devices whose partitions moved to another worker."""
        for device in [d for d in self.states if not keep(d)]:
            del self.states[device]

    def snapshot(self) -> dict[str, dict]:
        """The devices whose status changed since the last call, for the table: once per device per batch."""
        out = {d: table_value(self.states[d]) for d in self.changed if d in self.states}
        self.changed.clear()
        return out


def status_record(c: StatusChange) -> dict:
    record = {
        "type": "status", "id": f"{c.device}:{c.status}:{c.at.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%S.%fZ')}",
        "device": c.device, "grid": c.grid, "status": c.status, "previous": c.previous, "reason": c.reason,
        "event_time": c.at.isoformat(),
    }
    if c.current_grid is not None:
        record["current_grid"] = c.current_grid
    if c.fix is not None:
        record["fix"] = {"time": c.fix.time.isoformat(), "lat": c.fix.lat, "lng": c.fix.lng, "accuracy": c.fix.accuracy}
    return record


def table_value(s: DeviceState) -> dict:
    fix = s.last
    return {"status": s.status, "since": s.since.isoformat() if s.since else None, "grid": s.grid,
            "fix": None if fix is None else [fix.time.isoformat(), fix.lat, fix.lng, fix.accuracy]}

"""The `device_to_patrol_state` table: each device's DeviceState held once, in the Faust table's own store,
with a compact changelog record written once per device per batch, and only when its status changed.

The detector mutates the states in place; writing each mutation through the table would send one
changelog record per ping (KAFKA-NOTES.md). So the store is the monitor's state mapping, and the
changelog records of a batch are produced with its other records and awaited before the batch is
acknowledged. A restart rebuilds from Postgres anyway (Tansu under-reports end offsets); what Faust
recovered from the changelog is kept only where it is newer than Postgres (`newest`).

The changelog is named by REDWALL_TOPIC_PATROL_CHANGELOG, not by Faust's `<app id>-<table>-changelog`: two
deployments, or two test workers with topics of their own, on one broker would otherwise write and recover
each other's device states (`changelog_topic`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from schemas import json
from streams.patrol.detector import OFF_DUTY, DeviceState
from streams.patrol.gps_quality import Fix

log = logging.getLogger(__name__)

NAME = "device_to_patrol_state"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def changelog_topic(app, settings):
    """The table's changelog topic, declared as Faust declares a table's own (compacted, internal, written
    without waiting for acks, a large buffer since changelog reads are never committed). Handed to the table,
    it is the one Faust writes, subscribes to and recovers from: the table manager keys its changelogs by it."""
    return app.topic(
        settings.topic_patrol_changelog,
        key_type=str,
        value_type=bytes,
        key_serializer="json",
        value_serializer="raw",
        partitions=settings.partitions,
        compacting=True,
        acks=False,
        internal=True,
        maxsize=131_072,
        allow_empty=True,
    )


def encode(s: DeviceState) -> bytes:
    """The durable facts: assigned grid, status and since, the last good fix and the grid it lies in.
    Times are integer microseconds, so a restored `since` gives the same deterministic event ids."""
    fix = s.last
    return json.dumps(
        [
            s.grid,
            s.status,
            _micros(s.since),
            s.current_grid,
            None if fix is None else [_micros(fix.time), fix.lat, fix.lng, fix.accuracy],
        ]
    )


def decode(device: str, value: bytes) -> DeviceState:
    grid, status, since, current_grid, fix = json.loads(value)
    s = DeviceState(device, grid, status, _time(since))
    if fix is not None:
        s.last, s.current_grid = Fix(_time(fix[0]), fix[1], fix[2], fix[3]), current_grid
    s.duty_since = None if status == OFF_DUTY else s.since
    return s


def from_row(row: dict, grid: str) -> DeviceState:
    """A state from `sinks.patrol.device_states` (what the sink wrote to Postgres)."""
    s = DeviceState(row["device"], grid, row["status"], row["since"])
    if row["fix_time"] is not None:
        s.last, s.current_grid = Fix(row["fix_time"], row["lat"], row["lng"], row["accuracy"]), row["current_grid"]
    s.duty_since = None if row["status"] == OFF_DUTY else row["since"]
    return s


def newest(a: DeviceState | None, b: DeviceState) -> DeviceState:
    """Of two accounts of one device, the later status, with the later of their fixes."""
    if a is None:
        return b
    if (a.since or _EPOCH) < (b.since or _EPOCH):
        a, b = b, a
    if b.last is not None and (a.last is None or a.last.time < b.last.time):
        a.last, a.current_grid = b.last, b.current_grid
    return a


def recovered(device: str, value: bytes, grid: str) -> DeviceState | None:
    """What Faust's changelog recovery left in the store for a device, or None when it is not a state
    this module wrote (a changelog from before this format); the roster's grid wins over the record's."""
    try:
        s = decode(device, value)
    except (ValueError, TypeError) as exc:
        log.warning("patrol: ignoring changelog value of %s (%s); Postgres has its state", device, exc)
        return None
    s.grid = grid
    return s


def _micros(t: datetime | None) -> int | None:
    return None if t is None else (t - _EPOCH) // _MICROSECOND


def _time(micros: int | None) -> datetime | None:
    return None if micros is None else _EPOCH + micros * _MICROSECOND

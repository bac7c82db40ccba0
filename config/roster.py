"""The patrol roster from TOML: workers, their device, role, team pair, assigned grid and duty shifts.

Every error names the file, the entry and the key, with a fix. `Roster` answers who is on duty when.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.errors import ConfigError
from config.files import read_toml
from config.settings import SAMPLE_ROSTER

ROLES = {
    "grid_worker": "网格员",
    "volunteer": "志愿者",
    "grid_chief": "网格长",
    "migrant_officer": "流管员",
}
_WORKER_KEYS = {"device", "name", "role", "grid", "team", "shifts"}
_SHIFT_KEYS = {"id", "name", "start", "end"}


@dataclass(frozen=True, slots=True)
class Shift:
    id: str
    name: str
    start: time
    end: time  # an end at or before the start runs past midnight

    def covers(self, local: time) -> bool:
        return self.covers_second(_second_of_day(local))

    def covers_second(self, second: int) -> bool:
        start, end = _second_of_day(self.start), _second_of_day(self.end)
        if start < end:
            return start <= second < end
        return second >= start or second < end


@dataclass(frozen=True, slots=True)
class Worker:
    device: str
    name: str
    role: str
    grid: str
    team: str | None
    shifts: tuple[str, ...]


@dataclass(frozen=True)
class Roster:
    timezone: str
    shifts: Mapping[str, Shift]
    workers: Mapping[str, Worker]  # by device

    def on_duty(self, device: str, when: datetime) -> bool:
        """Whether the device's worker is on a shift at `when`; a device not on the roster never is."""
        worker = self.workers.get(device)
        if worker is None:
            return False
        second = _local_second(when, self.timezone)
        shifts = self.shifts
        return any(shifts[shift].covers_second(second) for shift in worker.shifts)

    def by_grid(self) -> dict[str, list[str]]:
        """Devices per assigned grid."""
        grids: dict[str, list[str]] = {}
        for worker in self.workers.values():
            grids.setdefault(worker.grid, []).append(worker.device)
        return grids


_OFFSETS: dict[tuple[str, int], int] = {}


def _local_second(when: datetime, timezone: str) -> int:
    """Seconds since local midnight. Asked for every fix, so the zone's UTC offset is looked up once
    per hour (offsets change on hour boundaries) instead of converting each time."""
    ts = int(when.timestamp())
    hour = ts // 3600
    offset = _OFFSETS.get((timezone, hour))
    if offset is None:
        utc = datetime.fromtimestamp(hour * 3600, ZoneInfo("UTC"))
        offset = _OFFSETS[(timezone, hour)] = int(ZoneInfo(timezone).utcoffset(utc).total_seconds())
    return (ts + offset) % 86400


@lru_cache(maxsize=64)
def _second_of_day(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


EMPTY = Roster("Asia/Shanghai", MappingProxyType({}), MappingProxyType({}))


def load_roster(
    path: Path = SAMPLE_ROSTER, known_grids: Iterable[str] | None = None, geometry: Path | None = None
) -> Roster:
    """Parse and check a roster file; grid ids must be in `known_grids` (of the file `geometry`) when given."""
    data = read_toml(Path(path), "the roster")
    unknown = set(data) - {"timezone", "shift", "worker"}
    if unknown:
        raise ConfigError(f"{path}: unknown key {sorted(unknown)[0]!r}; use timezone, [[shift]] and [[worker]]")
    fix = _GRID_FIX.format(geometry=geometry or "the geometry (REDWALL_GEOMETRY)")
    return build_roster(
        data.get("timezone", "Asia/Shanghai"),
        data.get("shift", []),
        data.get("worker", []),
        str(path),
        known_grids,
        fix,
    )


# Said when a worker's grid is not on the map: the roster was written for another map (the sample's),
# or the grid id is mistyped.
_GRID_FIX = (
    "fix: give the worker a grid id of {geometry} (the console's map and `redwall street check` show them), "
    "or, if the roster was written for the street's own map, import that map (redwall geometry import) "
    "and point REDWALL_GEOMETRY at it"
)
STORED_GRID_FIX = (
    "fix: the map changed since the roster was loaded; load a roster of this map: redwall roster load (REDWALL_ROSTER)"
)


def build_roster(
    timezone: str,
    shifts: list[dict],
    workers: list[dict],
    where: str,
    known_grids: Iterable[str] | None = None,
    grid_fix: str = STORED_GRID_FIX,
) -> Roster:
    """A checked Roster from plain dicts (a TOML file's tables, or rows read back from Postgres)."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: timezone {timezone!r} is unknown; use an IANA name like Asia/Shanghai") from None
    by_id = {}
    for index, raw in enumerate(shifts):
        shift = _shift(raw, f"{where}: shift #{index + 1} ({raw.get('id', 'no id')})")
        if shift.id in by_id:
            raise ConfigError(f"{where}: shift id {shift.id!r} is used twice; give every shift its own id")
        by_id[shift.id] = shift
    grids = None if known_grids is None else set(known_grids)
    by_device = {}
    for index, raw in enumerate(workers):
        at = f"{where}: worker #{index + 1} ({raw.get('device', 'no device')})"
        worker = _worker(raw, at, by_id, grids, grid_fix)
        if worker.device in by_device:
            raise ConfigError(f"{at}: device is listed twice; one device belongs to one worker")
        by_device[worker.device] = worker
    _check_teams(by_device.values(), where)
    return Roster(timezone, MappingProxyType(by_id), MappingProxyType(by_device))


def _shift(raw: dict, where: str) -> Shift:
    unknown = set(raw) - _SHIFT_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}; a shift has {', '.join(sorted(_SHIFT_KEYS))}")
    for key in ("id", "start", "end"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{where}: {key} is required and must be a string")
    start, end = _clock_time(raw["start"], f"{where}: start"), _clock_time(raw["end"], f"{where}: end")
    if start == end:
        raise ConfigError(f"{where}: start and end are equal; a shift must last some time")
    return Shift(raw["id"], raw.get("name", raw["id"]), start, end)


def _worker(raw: dict, where: str, shifts: Mapping[str, Shift], grids: set[str] | None, grid_fix: str) -> Worker:
    unknown = set(raw) - _WORKER_KEYS
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {sorted(unknown)[0]!r}; a worker has {', '.join(sorted(_WORKER_KEYS))}"
        )
    for key in ("device", "name", "role", "grid"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{where}: {key} is required and must be a string")
    if raw["role"] not in ROLES:
        raise ConfigError(f"{where}: role {raw['role']!r} is unknown; use one of {', '.join(ROLES)}")
    if grids is not None and raw["grid"] not in grids:
        near = sorted(g for g in grids if g[:3] == raw["grid"][:3])[:5] or sorted(grids)[:5]
        raise ConfigError(
            f"{where}: {raw['name']}'s grid {raw['grid']!r} is not on the map (its grids include "
            f"{', '.join(near) or 'none'}); {grid_fix}"
        )
    names = raw.get("shifts", [])
    if not isinstance(names, list) or not names or not all(isinstance(s, str) for s in names):
        raise ConfigError(f'{where}: shifts must be a non-empty list of shift ids, e.g. ["day"]')
    missing = [s for s in names if s not in shifts]
    if missing:
        raise ConfigError(f"{where}: shifts names unknown shift {missing[0]!r}; declare it in a [[shift]] table")
    team = raw.get("team")
    if team is not None and (not isinstance(team, str) or not team):
        raise ConfigError(f"{where}: team must be a non-empty string shared by the two workers of a pair")
    return Worker(raw["device"], raw["name"], raw["role"], raw["grid"], team, tuple(names))


def _check_teams(workers: Iterable[Worker], where: str) -> None:
    teams: dict[str, list[str]] = {}
    for worker in workers:
        if worker.team is not None:
            teams.setdefault(worker.team, []).append(worker.device)
    for team, members in teams.items():
        if len(members) != 2:
            raise ConfigError(
                f"{where}: team {team!r} has {len(members)} member(s) ({', '.join(members)}); "
                "a team is a pair (流管员 + 志愿者): give it exactly two workers"
            )


def _clock_time(value: str, where: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not a time of day; write it as HH:MM, e.g. 08:00") from None

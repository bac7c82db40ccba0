"""Per-grid patrol alerts: off-post and offline grouped per grid, coverage gaps in major events, and
rate-limited patrol advisories for hot spots (前响应). Pure: times come in, `Alert` dicts go out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from streams.patrol_state import OFF_POST, OFFLINE, ON_POST

GROUPED = (OFF_POST, OFFLINE)
_TEXT = {
    OFF_POST: ("离岗", "off post", "名巡逻人员离开责任网格", "patrol member(s) left their grid"),
    OFFLINE: ("失联", "offline", "名巡逻人员定位中断", "patrol member(s) stopped reporting"),
    "coverage_gap": ("在岗不足", "coverage gap", "网格在岗人数低于要求", "fewer workers on post than required"),
}


@dataclass
class Group:
    """Devices of one grid that entered one condition within the group window: one alert."""

    kind: str
    opened: datetime
    devices: set[str]
    fired: tuple[str, ...] = ()  # the devices the firing alert listed; empty while pending


@dataclass
class GridState:
    statuses: dict[str, str] = field(default_factory=dict)  # device -> status
    on_post: int = 0  # kept with `statuses`: counting a grid of hundreds on every event would be O(n)
    groups: list[Group] = field(default_factory=list)
    short_since: datetime | None = None
    gap_fired: datetime | None = None  # the short_since of the firing coverage gap


class PatrolAlerts:
    """`required(grid, when)`: on-post workers a grid needs; `place(grid)`: (street, community)."""

    def __init__(self, group_window: timedelta, coverage_grace: timedelta,
                 required: Callable[[str, datetime], int], place: Callable[[str], tuple[str, str]]):
        self.window, self.grace, self.required, self.place = group_window, coverage_grace, required, place
        self.grids: dict[str, GridState] = {}

    def status(self, device: str, grid: str, status: str, at: datetime, created: datetime) -> list[dict]:
        """A device's status changed at `at`; returns the alerts it causes (firing or resolved)."""
        gs = self.grids.setdefault(grid, GridState())
        alerts = self._fire_due(grid, gs, at, created)
        previous = gs.statuses.get(device)
        gs.statuses[device] = status
        gs.on_post += (status == ON_POST) - (previous == ON_POST)
        if previous in GROUPED and previous != status:
            alerts += self._leave(grid, gs, device, previous, at, created)
        if status in GROUPED and previous != status:
            self._join(gs, device, status, at)
        return alerts + self._coverage(grid, gs, at, created)

    def tick(self, grids: Iterable[str], now: datetime, created: datetime) -> list[dict]:
        """Fire groups whose window ended and check coverage (a period may have begun or ended)."""
        alerts = []
        for grid in grids:
            gs = self.grids.setdefault(grid, GridState())
            alerts += self._fire_due(grid, gs, now, created) + self._coverage(grid, gs, now, created)
        return alerts

    def _join(self, gs: GridState, device: str, kind: str, at: datetime) -> None:
        pending = next((g for g in gs.groups if g.kind == kind and not g.fired and at < g.opened + self.window), None)
        if pending is None:
            gs.groups.append(Group(kind, at, {device}))
        else:
            pending.devices.add(device)

    def _leave(self, grid: str, gs: GridState, device: str, kind: str, at: datetime, created: datetime) -> list[dict]:
        group = next((g for g in gs.groups if g.kind == kind and device in g.devices), None)
        if group is None:
            return []
        group.devices.discard(device)
        if group.devices:
            return []
        gs.groups.remove(group)
        if not group.fired:
            return []  # back within the window: nobody was told, nobody needs telling
        return [self._alert(kind, "resolved", grid, group.opened, at, created, group.fired)]

    def _fire_due(self, grid: str, gs: GridState, now: datetime, created: datetime) -> list[dict]:
        alerts = []
        for group in gs.groups:
            if not group.fired and group.opened + self.window <= now:
                group.fired = tuple(sorted(group.devices))
                alerts.append(self._alert(group.kind, "firing", grid, group.opened, group.opened, created, group.fired))
        return alerts

    def _coverage(self, grid: str, gs: GridState, at: datetime, created: datetime) -> list[dict]:
        need = self.required(grid, at)
        on_post = gs.on_post
        if need > on_post:
            gs.short_since = gs.short_since or at
            if gs.gap_fired is None and at >= gs.short_since + self.grace:
                gs.gap_fired = gs.short_since
                return [self._alert("coverage_gap", "firing", grid, gs.short_since, gs.short_since, created,
                                    sorted(d for d, s in gs.statuses.items() if s == ON_POST), need, on_post)]
            return []
        opened, gs.short_since, gs.gap_fired = gs.gap_fired, None, None
        if opened is None:
            return []
        return [self._alert("coverage_gap", "resolved", grid, opened, at, created, (), need, on_post)]

    def _alert(self, kind: str, status: str, grid: str, opened: datetime, at: datetime, created: datetime,
               devices: Iterable[str], need: int = 0, on_post: int = 0) -> dict:
        street, community = self.place(grid)
        zh, en, body_zh, body_en = _TEXT[kind]
        devices = list(devices)
        if kind == "coverage_gap":
            body_zh, body_en = f"{body_zh}：在岗 {on_post} / 需要 {need}", f"{body_en}: {on_post} on post of {need}"
        else:
            body_zh, body_en = f"{len(devices)} {body_zh}：{'、'.join(devices)}", f"{len(devices)} {body_en}: {', '.join(devices)}"
        return patrol_alert(kind, status, grid, street, community, opened, at, created, devices,
                            {"zh": f"{grid} {zh}", "en": f"{grid} {en}"}, {"zh": body_zh, "en": body_en})


def patrol_alert(kind: str, status: str, grid: str, street: str, community: str, opened: datetime, at: datetime,
                 created: datetime, devices: list[str], title: dict, body: dict) -> dict:
    """An `Alert` record; its id names the condition and when it began, so a replay yields the same id."""
    base = f"patrol:{kind}:{grid}:{_stamp(opened)}"
    street_level = kind == "coverage_gap"  # the street must staff the grid: 大事不出街道
    return {
        "id": base if status == "firing" else f"{base}:resolved",
        "kind": kind, "status": status,
        "level": "street" if street_level else "grid", "owner": street if street_level else grid,
        "street": street, "community": community, "grid": grid,
        "severity": "high" if street_level else "medium" if kind != "patrol_advisory" else "low",
        "priority": "high" if street_level else "normal",
        "title": title, "body": body, "devices": devices[:1000],
        "event_time": _rfc3339(at), "created_at": _rfc3339(created),
    }


class Advisor:
    """Hot spots (H3 cells with at least `min_reports` recent reports) -> advisories, at most one per
    cell per `repeat` interval."""

    def __init__(self, min_reports: int, repeat: timedelta, place: Callable[[str], tuple[str, str]]):
        self.min_reports, self.repeat, self.place = min_reports, repeat, place
        self.last: dict[str, datetime] = {}  # cell -> when it was last advised

    def advise(self, counts: Iterable[tuple[str, str, int]], now: datetime, devices: Callable[[str], list[str]]) -> list[dict]:
        """`counts`: (cell, grid, reports in the window); returns the advisories due now."""
        alerts = []
        for cell, grid, count in sorted(counts, key=lambda c: (-c[2], c[0])):
            last = self.last.get(cell)
            if count < self.min_reports or (last is not None and now < last + self.repeat):
                continue
            self.last[cell] = now
            street, community = self.place(grid)
            title = {"zh": f"{grid} 前响应巡查", "en": f"{grid} patrol advisory"}
            body = {"zh": f"H3 {cell} 近期 {count} 起事件，请前往巡查", "en": f"{count} recent reports in H3 cell {cell}: patrol it"}
            alert = patrol_alert("patrol_advisory", "firing", grid, street, community, now, now, now,
                                 devices(grid), title, body)
            alert["id"] = f"patrol:patrol_advisory:{cell}:{_stamp(now)}"
            alerts.append(alert)
        return alerts


def _rfc3339(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds")


def _stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")

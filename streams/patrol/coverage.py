"""Per-grid patrol alerts: off-post and offline grouped per grid, and coverage gaps in major events; the
record every patrol alert is made of (advisories too, streams/patrol/advisories.py). Pure: times come in,
`Alert` dicts go out, their Chinese with times in the street's zone (`tz`) to the minute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from schemas.display import ALERT_KIND, local_minute, span_zh
from streams.patrol.detector import OFF_POST, OFFLINE, ON_POST

GROUPED = (OFF_POST, OFFLINE)
# kind -> status -> (what the Chinese body says, what the English body says)
_SAYS = {
    OFF_POST: {
        "firing": ("名巡逻人员离开责任网格", "patrol member(s) left their grid"),
        "resolved": ("名巡逻人员已回到责任网格", "patrol member(s) back in their grid"),
    },
    OFFLINE: {
        "firing": ("名巡逻人员定位中断", "patrol member(s) stopped reporting"),
        "resolved": ("名巡逻人员恢复定位", "patrol member(s) reporting again"),
    },
    "coverage_gap": {
        "firing": ("网格在岗人数低于要求", "fewer workers on post than required"),
        "resolved": ("网格在岗人数已恢复", "enough workers on post again"),
    },
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

    def __init__(
        self,
        group_window: timedelta,
        coverage_grace: timedelta,
        required: Callable[[str, datetime], int],
        place: Callable[[str], tuple[str, str]],
        tz: str,
    ):
        self.window, self.grace, self.required, self.place, self.tz = group_window, coverage_grace, required, place, tz
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

    def restore(self, grid: str, statuses: Iterable[tuple[str, str, datetime]], open_alerts: Iterable[dict]) -> None:
        """A grid this worker now owns: each device's (device, status, since), as Postgres has them, and
        the grid's alerts still open on the alerts topic. A group that fired comes back fired; devices off
        post or offline that no fired group lists come back pending, joined in the order they left, so an
        alert a restart or a rebalance interrupted still fires, with the id it would have had."""
        gs = self.grids.setdefault(grid, GridState())
        statuses = sorted(statuses, key=lambda row: row[2])
        for device, status, _ in statuses:
            gs.on_post += (status == ON_POST) - (gs.statuses.get(device) == ON_POST)
            gs.statuses[device] = status
        for alert in open_alerts:
            self._reopen(gs, alert)
        listed = {(g.kind, d) for g in gs.groups for d in g.devices}
        for device, status, since in statuses:
            if status in GROUPED and (status, device) not in listed:
                self._join(gs, device, status, since)

    @staticmethod
    def _reopen(gs: GridState, alert: dict) -> None:
        opened = datetime.fromisoformat(alert["event_time"])
        if alert["kind"] == "coverage_gap":
            gs.short_since = gs.gap_fired = opened
        elif alert["kind"] in GROUPED:
            still = {d for d in alert["devices"] if gs.statuses.get(d) == alert["kind"]}
            # A group whose devices all came back while no worker owned it is resolved on the next event
            # of any of them; keeping it listed with its old members makes that clearance go out.
            gs.groups.append(Group(alert["kind"], opened, still or set(alert["devices"]), tuple(alert["devices"])))

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
                return [
                    self._alert(
                        "coverage_gap",
                        "firing",
                        grid,
                        gs.short_since,
                        gs.short_since,
                        created,
                        sorted(d for d, s in gs.statuses.items() if s == ON_POST),
                        need,
                        on_post,
                    )
                ]
            return []
        opened, gs.short_since, gs.gap_fired = gs.gap_fired, None, None
        if opened is None:
            return []
        return [self._alert("coverage_gap", "resolved", grid, opened, at, created, (), need, on_post)]

    def _alert(
        self,
        kind: str,
        status: str,
        grid: str,
        opened: datetime,
        at: datetime,
        created: datetime,
        devices: Iterable[str],
        need: int = 0,
        on_post: int = 0,
    ) -> dict:
        street, community = self.place(grid)
        says_zh, says_en = _SAYS[kind][status]
        devices = list(devices)
        if kind == "coverage_gap":
            says_zh, says_en = f"{says_zh}：在岗 {on_post} / 需要 {need}", f"{says_en}: {on_post} on post of {need}"
        else:
            says_zh = f"{len(devices)} {says_zh}：{'、'.join(devices)}"
            says_en = f"{len(devices)} {says_en}: {', '.join(devices)}"
        if status == "firing":
            when_zh, when_en = f"自 {local_minute(opened, self.tz)} 起", f"since {_rfc3339(opened)}"
        else:
            lasted = span_zh((at - opened).total_seconds())
            when_zh = f"{local_minute(opened, self.tz)} 至 {local_minute(at, self.tz)}，历时 {lasted}"
            when_en = f"{_rfc3339(opened)} to {_rfc3339(at)}"
        # The clearance keeps its twin's title (channels mark it 【已解除】 from its status); the body says what ended.
        title = {"zh": f"{grid} {ALERT_KIND[kind]}", "en": f"{grid} {kind.replace('_', ' ')}"}
        return patrol_alert(
            kind,
            status,
            grid,
            street,
            community,
            opened,
            at,
            created,
            devices,
            title,
            {"zh": f"{says_zh}（{when_zh}）", "en": f"{says_en} ({when_en})"},
        )


def patrol_alert(
    kind: str,
    status: str,
    grid: str,
    street: str,
    community: str,
    opened: datetime,
    at: datetime,
    created: datetime,
    devices: list[str],
    title: dict,
    body: dict,
    subject: str | None = None,
) -> dict:
    """An `Alert` record; its id names the condition, where (`subject`: the grid unless said) and when it
    began, so a replay yields the same id."""
    base = f"patrol:{kind}:{subject or grid}:{_stamp(opened)}"
    street_level = kind == "coverage_gap"  # the street must staff the grid: 大事不出街道
    return {
        "id": base if status == "firing" else f"{base}:resolved",
        "kind": kind,
        "status": status,
        "level": "street" if street_level else "grid",
        "owner": street if street_level else grid,
        "street": street,
        "community": community,
        "grid": grid,
        "severity": "high" if street_level else "medium" if kind != "patrol_advisory" else "low",
        "priority": "high" if street_level else "normal",
        "title": title,
        "body": body,
        "devices": devices[:1000],
        "event_time": _rfc3339(at),
        "created_at": _rfc3339(created),
    }


def _rfc3339(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds")


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

"""The routing engine, pure: which alerts one channel notifies and when, grouped, repeated as
reminders, inhibited and held through quiet hours, and which clearances follow them (as Alertmanager's
send_resolved: to a channel that was told of the firing twin). Time comes from an injected clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from config.routing import Route, Routing, matches
from schemas.records import NOTICE_KINDS
from sinks.notification import Notification
from streams.clock import Clock, SystemClock


@dataclass
class _Group:
    route: Route
    labels: tuple[tuple[str, str | None], ...]
    flush_at: float | None
    firing: dict[str, dict] = field(default_factory=dict)  # alert id -> alert, in arrival order
    sent: dict[str, int] = field(default_factory=dict)  # alert id -> notices sent so far
    last_sent: float | None = None


class Router:
    """Feed it every alert of the topic with `offer`; ask `due` for the notifications to send now."""

    def __init__(self, routing: Routing, channel: str, clock: Clock = SystemClock()):
        self.routing, self.channel, self.clock = routing, channel, clock
        self.send_resolved = routing.channels[channel].send_resolved
        self.groups: dict[tuple, _Group] = {}
        # Firing alerts that may inhibit others, whatever channel they go to: a street-level alert
        # routed only to the command centre still silences the community's reminders.
        self.sources: dict[str, dict] = {}

    def offer(self, alert: dict) -> bool:
        """Take one alert; True when a first notice of it (or of a clearance) is now pending on this channel."""
        now = self.clock.now().timestamp()
        if alert["status"] == "resolved":
            told = self.clear(alert)
            return told is not None and self._says_clearance(told, alert, now) and self._queue(told, alert, now)
        self.note_source(alert)
        if self._stale(alert, now):
            return False  # stored upstream, but a replay of old events pages nobody
        accepted = False
        for route in self.routing.routes_for(alert):
            if self.channel in route.channels:
                accepted |= self._add(route, alert, now)
        return accepted

    def restore(self, alert: dict, sent: int, last_sent: datetime) -> None:
        """After a restart: an alert this channel had notified `sent` times, the last at `last_sent`,
        reminds again one repeat_interval after that, whatever its age."""
        self.note_source(alert)
        for route in self.routing.routes_for(alert):
            if self.channel in route.channels:
                self._add(route, alert, last_sent.timestamp(), sent=sent)

    def note_source(self, alert: dict) -> None:
        if any(matches(rule.source, alert) for rule in self.routing.inhibit):
            self.sources[alert["id"]] = alert

    def _says_clearance(self, told: _Group, alert: dict, now: float) -> bool:
        """Whether this channel, told of the twin in `told`, is to hear of its clearance now. A clearance
        has its own id (the twin's + ":resolved"): the delivery log keeps one success per id, so one
        under its twin's id only clears."""
        return (
            self.send_resolved
            and alert["id"].endswith(":resolved")
            and alert["id"] not in told.firing
            and not self._stale(alert, now)
        )

    def _stale(self, alert: dict, now: float) -> bool:
        return now - datetime.fromisoformat(alert["event_time"]).timestamp() > self.routing.max_age

    def _add(self, route: Route, alert: dict, now: float, sent: int = 0) -> bool:
        if sent and alert["kind"] in NOTICE_KINDS:
            return False  # restored after its one notice: a notice never reminds
        labels = tuple((label, alert.get(label)) for label in route.group_by)
        group = self.groups.get((route.id, labels))
        if group is None:
            group = self.groups[(route.id, labels)] = _Group(route, labels, now + route.group_wait)
        if alert["id"] in group.firing:
            return False  # the same alert again (a replay): already handled
        return self._queue(group, alert, now, sent)

    def _queue(self, group: _Group, alert: dict, now: float, sent: int = 0) -> bool:
        route = group.route
        group.firing[alert["id"]] = alert
        group.sent[alert["id"]] = sent
        if sent:  # restored: the group last spoke then, and reminds a repeat_interval later
            group.last_sent = max(group.last_sent or now, now)
            group.flush_at = group.last_sent + route.repeat_interval
            return False
        if group.last_sent is not None:  # a group that has spoken waits group_interval before the next
            soonest = max(now, group.last_sent + route.group_interval)
            group.flush_at = soonest if group.flush_at is None else min(group.flush_at, soonest)
        return True

    def clear(self, alert: dict) -> _Group | None:
        """A resolved alert clears its firing twin (same id, or the id without `:resolved`, as patrol
        alerts name them) and, when it names one, every alert of its incident. Returns the group whose
        notice told this channel of the twin, if one did: the clearance goes there."""
        twin = alert["id"].removesuffix(":resolved")
        told = next((g for g in self.groups.values() if g.sent.get(twin, 0) > 0), None)
        self._clear(
            lambda other: (
                other["id"] == twin
                or (alert.get("incident") is not None and other.get("incident") == alert["incident"])
            )
        )
        return told

    def settle(self, incident: str) -> None:
        """Someone acknowledged, resolved or closed the incident: its alerts stop reminding."""
        self._clear(lambda other: other.get("incident") == incident)

    def _clear(self, cleared: Callable[[dict], bool]) -> None:
        self.sources = {i: a for i, a in self.sources.items() if not cleared(a)}
        for group in self.groups.values():
            for alert_id in [i for i, a in group.firing.items() if cleared(a)]:
                del group.firing[alert_id], group.sent[alert_id]

    def pending(self) -> set[str]:
        """Ids of alerts whose first notice has not gone out yet: their offsets must not be committed."""
        return {i for g in self.groups.values() for i, n in g.sent.items() if n == 0}

    def next_due(self) -> datetime | None:
        times = [g.flush_at for g in self.groups.values() if g.flush_at is not None]
        return datetime.fromtimestamp(min(times), UTC) if times else None

    def due(self) -> list[Notification]:
        now = self.clock.now()
        out = [
            n
            for g in self.groups.values()
            if g.flush_at is not None and g.flush_at <= now.timestamp()
            for n in [self._flush(g, now)]
            if n is not None
        ]
        self.groups = {k: g for k, g in self.groups.items() if g.firing}
        return out

    def _flush(self, group: _Group, now: datetime) -> Notification | None:
        stamp, route = now.timestamp(), group.route
        quiet_end = self._quiet_end(route, now)
        allowed = (lambda a: a["priority"] == "top") if quiet_end else (lambda a: True)
        new = [(a, 0) for i, a in group.firing.items() if group.sent[i] == 0 and allowed(a)]
        reminding = not new and group.last_sent is not None and stamp >= group.last_sent + route.repeat_interval
        items = new or (
            [
                (a, group.sent[i])
                for i, a in group.firing.items()
                if group.sent[i] > 0 and allowed(a) and not self.inhibited(a)
            ]
            if reminding
            else []
        )
        for alert, _ in items:
            group.sent[alert["id"]] += 1
            if alert["status"] == "resolved" or alert["kind"] in NOTICE_KINDS:  # said once, never as a reminder
                del group.firing[alert["id"]], group.sent[alert["id"]]
        if items or reminding:
            group.last_sent = stamp
        held = any(n == 0 for n in group.sent.values())
        group.flush_at = self._next_flush(group, stamp, quiet_end if held else None)
        return Notification(self.channel, route.id, group.labels, tuple(items)) if items else None

    def _next_flush(self, group: _Group, stamp: float, held_until: float | None) -> float | None:
        if held_until is not None:
            return held_until  # notices held by quiet hours go out when they end
        if not group.firing:
            return None
        return (group.last_sent or stamp) + group.route.repeat_interval

    def _quiet_end(self, route: Route, now: datetime) -> float | None:
        """When the route's quiet hours end, if they hold now; None outside them."""
        quiet = route.quiet_hours
        local = now.astimezone(self.routing.utc_offset)
        if quiet is None or not quiet.contains(local.time()):
            return None
        end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.timestamp()

    def inhibited(self, alert: dict) -> bool:
        return any(
            source["id"] != alert["id"]
            and matches(rule.source, source)
            and matches(rule.target, alert)
            and all(alert.get(label) is not None and source.get(label) == alert.get(label) for label in rule.equal)
            for rule in self.routing.inhibit
            for source in self.sources.values()
        )

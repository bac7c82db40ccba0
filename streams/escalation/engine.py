"""The incident engine: located reports and people's actions in, incident events and alerts out, by
the rules of config/escalation.toml. Pure (no I/O); time comes from an injected clock. One engine
holds the incidents of one partition, i.e. of the streets keyed onto it; a report outside every
grid opens an incident in the street's unlocated queue (community UNLOCATED), placed by hand."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import h3

from config.calendar import WorkingCalendar
from config.major_events import MajorEvents, Period
from config.rules import Rules
from schemas.records import LEVELS, POINT_PLACED, UNLOCATED
from streams.clock import Clock
from streams.escalation.actions import PeopleActions
from streams.escalation.alerts import alert_for
from streams.escalation.places import Places
from streams.escalation.reasons import Reasons
from streams.escalation.requests import Requests

# community_of: callers take it from here with the engine.
from streams.escalation.state import OPEN, Incident, Outcome, community_of, incident_id  # noqa: F401
from streams.escalation.timers import SYSTEM, DeadlineTimers


class IncidentEngine(PeopleActions, Requests, DeadlineTimers):
    """Every call takes one input (or the passing of time) and returns what it caused, as an Outcome."""

    def __init__(
        self,
        rules: Rules,
        clock: Clock,
        major_events: MajorEvents = MajorEvents(()),
        places: Places | None = None,
        *,
        tz: str,
        calendar: WorkingCalendar,
        streets: Mapping[str, str] | None = None,
    ):
        self.rules, self.clock, self.major_events = rules, clock, major_events
        self.calendar = calendar  # the street's working days and hours
        self.tz, self.words = tz, Reasons(tz)  # the street's time zone, for what people read
        self.places = places or Places()  # owner id -> (level, community); for reassign
        self.streets = streets or {}  # community -> its street: where an unlocated incident placed there belongs
        self.district = next((owner for owner, (level, _) in self.places.items() if level == "district"), None)
        self.unlocated_owner = self.places.unlocated  # Geometry.unlocated_owner: the street or the district
        self.incidents: dict[str, Incident] = {}
        # Action ids, and report ids located or not (_seen), already applied: redeliveries are no-ops. A
        # report outside the street, once the street places it, comes again to open an incident in its community.
        self.seen: set[str] = set()
        self.unlocated: dict[str, dict] = {}  # unlocated incident -> its report, re-published when placed
        self._deadlines: list[tuple[datetime, str, str, str]] = []  # heap of (at, incident, kind, warn/breach)
        self._clusters: dict[tuple[str, str], list[str]] = {}  # (category, cell) -> incident ids

    # -- inputs ---------------------------------------------------------------------------------
    def report(self, report: dict) -> Outcome:
        """A located report opens an incident or joins a near, recent one of the same category. One
        outside every grid opens an incident in the street's unlocated queue, for its dispatchers to place."""
        out = self.due()
        seen = _seen(report.get("community") or UNLOCATED, report["id"])
        if seen in self.seen or not (report.get("street") or self.unlocated_owner):
            return out  # a redelivery, or (an engine without places) no street to own it
        self.seen.add(seen)
        source = datetime.fromisoformat(report["event_time"])
        loc = report["location"]
        cell = h3.latlng_to_cell(loc["lat"], loc["lng"], self.rules.cluster_resolution)
        rules = self.rules.for_street(report.get("street") or self.unlocated_owner)
        joined = self._cluster_match(rules, report, cell, source) if _joins(report) else None
        if joined is None:
            self._open(report, cell, source, out)
        else:
            self._merge(joined, report, source, out)
        return out

    def prune(self) -> int:
        """Forget incidents resolved or closed longer ago than `[retention] closed` (Postgres keeps them)."""
        now = self.clock.now()
        if now is None:
            return 0
        cutoff = now - self.rules.keep_closed
        gone = {i.id for i in self.incidents.values() if i.closed_at is not None and i.closed_at < cutoff}
        for inc_id in gone:
            inc = self.incidents.pop(inc_id)
            self.unlocated.pop(inc_id, None)
            if inc.community != UNLOCATED:
                self._clusters[(inc.category, inc.cell)].remove(inc_id)
        return len(gone)

    def apply_period(self, period: Period) -> None:
        """A major-event period switched on at run time (e.g. `redwall major-event start`)."""
        self.major_events = self.major_events.with_period(period)

    def restore(self, event: dict) -> None:
        """Rebuild from an incident event: the newest state of each incident, and what was seen."""
        self.remember(event["community"], event.get("report"), event.get("action"))
        known = self.incidents.get(event["incident"])
        if event["kind"] == "action_rejected" or (known is not None and known.seq >= event["seq"]):
            return
        inc = Incident.from_event(event)
        self.incidents[inc.id] = inc
        if known is None:
            self._index(inc)
        self._refresh(inc, None)  # the deadlines again from the state: the same as the engine that wrote it

    def remember(self, community: str, report: str | None, action: str | None) -> None:
        """Rebuild: a report or action an event of `community` shows applied, so that it stays a no-op."""
        if report:
            self.seen.add(_seen(community, report))
        if action:
            self.seen.add(action)

    def restore_unlocated(self, report: dict) -> None:
        """Rebuild: the report of an unlocated incident, kept to place it."""
        inc_id = incident_id(UNLOCATED, report["id"])
        if inc_id in self.incidents:
            self.unlocated[inc_id] = report

    # -- transitions ----------------------------------------------------------------------------
    def _open(self, report: dict, cell: str, source: datetime, out: Outcome) -> None:
        r, now = report, self.clock.now()
        community, level, priority, why, code = self._start(r)
        inc = Incident(
            incident_id(community, r["id"]),
            r.get("street") or self.unlocated_owner,
            community,
            r.get("grid"),
            r["category"],
            r["severity"],
            priority,
            cell,
            "assigned",
            level,
            "",
            now,
            source,
        )
        inc.owner, inc.courtyard = self._owner(inc, level), r.get("courtyard")
        rules = self.rules_of(inc)
        inc.rules, inc.limits = rules.version, rules.limits_for(inc.category)
        if code == "sensitive_zone":
            inc.flags.add("sensitive_zone")
        if community == UNLOCATED:
            self.unlocated[inc.id] = r
        self.incidents[inc.id] = inc
        self._index(inc)
        self._start_clock(inc, now)
        event = self._event(inc, "opened", now, r["device"], why, code, report=r["id"])
        out.events.append(event)
        self._alert(out, event, "incident_opened", level, inc.owner, source)

    def _start(self, r: dict) -> tuple[str, str, str, str, str]:
        """Where a new incident starts: (community, level, priority, why, reason code)."""
        rules = self.rules.for_street(r.get("street") or self.unlocated_owner)
        by_severity = rules.priority_by_severity.get(r["severity"], "normal")
        if not r.get("community"):  # outside every grid: the street's dispatchers place it
            return UNLOCATED, "street", by_severity, self.words.unlocated(), "unlocated"
        zone = rules.sensitive_zone(r["category"], r["location"]["lat"], r["location"]["lng"])
        if zone:
            return (
                r["community"],
                rules.zone_level,
                rules.zone_priority,
                self.words.sensitive_zone(zone.name, rules.zone_level),
                "sensitive_zone",
            )
        level = rules.initial_level(r["category"], r["severity"])
        return r["community"], level, by_severity, self.words.opened(r["category"], r["severity"], level), "report"

    def _merge(self, inc: Incident, report: dict, source: datetime, out: Outcome) -> None:
        now = self.clock.now()
        inc.reports += 1
        inc.last_report_at = max(inc.last_report_at, source)
        rules = self.rules_of(inc)
        threshold = inc.reports >= rules.cluster_escalate_at and "cluster_escalated" not in inc.flags
        if threshold:  # flagged in the merge's own state: at the street no escalation event may follow
            inc.flags.add("cluster_escalated")
        out.events.append(
            self._event(
                inc,
                "report_merged",
                now,
                report["device"],
                self.words.merged(inc.reports),
                "cluster",
                report=report["id"],
            )
        )
        if threshold:
            why = self.words.cluster(inc.reports, inc.category, rules.cluster_window)
            self._escalate(inc, "cluster", now, SYSTEM, why, "cluster", out, source=source)

    def _escalate(
        self,
        inc: Incident,
        family: str,
        when: datetime,
        actor: str,
        why: str,
        code: str,
        out: Outcome,
        *,
        source: datetime,
        action: str | None = None,
    ) -> bool:
        """One level up; beyond the street only if a ceiling rule allows it. False if not allowed."""
        if inc.level == "district" or (
            inc.level == "street" and not self.rules_of(inc).ceiling_allows(inc.category, inc.severity, family)
        ):
            return False
        old_level, old_owner = inc.level, inc.owner
        inc.level = LEVELS[LEVELS.index(old_level) + 1]
        inc.owner, inc.status = self._owner(inc, inc.level), "assigned"
        ceiling = inc.level == "district"
        if ceiling:
            inc.flags.add("ceiling_exceeded")
        self._start_clock(inc, when)
        event = self._event(
            inc, "escalated", when, actor, why, code, from_level=old_level, action=action, ceiling=ceiling
        )
        out.events.append(event)
        self._alert(out, event, "incident_escalated", inc.level, inc.owner, source)
        if family == "deadline":  # 超时督办: the old owner hears of it too
            self._alert(out, event, "deadline_breached", old_level, old_owner, source)
        if ceiling:
            self._alert(out, event, "ceiling_exceeded", inc.level, inc.owner, source)
        return True

    def _breach(self, inc: Incident, kind: str, due: datetime, out: Outcome) -> None:
        up = LEVELS[min(LEVELS.index(inc.level) + 1, len(LEVELS) - 1)]
        why = self.words.deadline(kind, due, inc.level, up)
        if self._escalate(inc, "deadline", due, SYSTEM, why, f"deadline_{kind}", out, source=due):
            return
        # At the street (or the district) with no rule to go further: chase the owner, stay put, and
        # keep the deadline, so the incident reads as overdue since then.
        inc.missed[kind] = due
        why = self.words.deadline(kind, due, inc.level, None)
        event = self._event(inc, "deadline_missed", due, SYSTEM, why, f"deadline_{kind}", from_level=inc.level)
        out.events.append(event)
        self._alert(out, event, "deadline_breached", inc.level, inc.owner, due)

    # -- helpers --------------------------------------------------------------------------------
    def _event(
        self,
        inc: Incident,
        kind: str,
        when: datetime,
        actor: str,
        reason: str,
        code: str,
        *,
        from_level: str | None = None,
        report: str | None = None,
        action: str | None = None,
        ceiling: bool = False,
    ) -> dict:
        inc.seq += 1
        event = {
            "id": f"{inc.id}:{inc.seq:05d}",
            "incident": inc.id,
            "seq": inc.seq,
            "kind": kind,
            "when": when.isoformat(),
            "actor": actor,
            "reason": reason,
            "reason_code": code,
            "to_level": inc.level,
            "street": inc.street,
            "community": inc.community,
            "category": inc.category,
            "severity": inc.severity,
            "ceiling": "yes" if ceiling else "no",
            "state": inc.state(),
        }
        for key, value in (("from_level", from_level), ("report", report), ("action", action), ("grid", inc.grid)) + (
            ("courtyard", inc.courtyard),
        ):
            if value:
                event[key] = value
        return event

    def _alert(self, out: Outcome, event: dict, kind: str, level: str, owner: str, source: datetime) -> None:
        """Alert the owner, unless the cause is older than the configured age (a replay, a late event)."""
        now = self.clock.now()
        if now - source > self.rules.alert_max_age:
            out.suppressed.append(event["street"])
            return
        out.alerts.append(alert_for(event, kind, level, owner, source, now, self.tz))

    def _owner(self, inc: Incident, level: str) -> str:
        return {
            "grid": inc.grid or inc.community,
            "community": inc.community,
            "street": inc.street,
            "district": self.district or "district",
        }[level]

    def rules_of(self, inc: Incident) -> Rules:
        """The rules of the incident's street (a district may set them per street)."""
        return self.rules.for_street(inc.street)

    def _index(self, inc: Incident) -> None:
        if inc.community != UNLOCATED:  # an unlocated report is near nothing: it is placed by hand
            self._clusters.setdefault((inc.category, inc.cell), []).append(inc.id)

    def _cluster_match(self, rules: Rules, report: dict, cell: str, source: datetime) -> Incident | None:
        """The open incident of the report's category and street nearby, last reported within the window: streets
        that share a partition share an engine, and a street's report never joins another street's incident."""
        window, best = rules.cluster_window, None
        for near in h3.grid_disk(cell, rules.cluster_ring):
            for inc_id in self._clusters.get((report["category"], near), ()):
                inc = self.incidents[inc_id]
                if (
                    inc.status in OPEN
                    and inc.street == report.get("street")
                    and abs(source - inc.last_report_at) <= window
                    and (best is None or (inc.last_report_at, inc.id) > (best.last_report_at, best.id))
                ):
                    best = inc
        return best


def _joins(report: dict) -> bool:
    """Whether a report may join a nearby incident: only one placed by a point, inside the street."""
    # A 12345 order placed only by its area stands at the area's centre, which says nothing of what is near.
    return bool(report.get("community")) and report.get("placed_by", "location") in POINT_PLACED


def _seen(community: str, report_id: str) -> str:
    """What marks a report applied: whether it was located, never in which community. A report joins a near
    incident of the next community, whose events name that community; placed from the unlocated queue, it
    comes again located. Ids never hold "/", so it cannot be an action id."""
    return f"{UNLOCATED if community == UNLOCATED else 'located'}/{report_id}"

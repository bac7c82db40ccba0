"""The incident engine: located reports and people's actions in, incident events and alerts out, by
the rules of config/escalation.toml. Pure (no I/O); time comes from an injected clock. One engine
holds the incidents of one partition, i.e. of the communities keyed onto it."""

from __future__ import annotations

import heapq
from datetime import datetime
from typing import Mapping

import h3

from config.major_events import MajorEvents, Period
from config.rules import Rules
from schemas.records import LEVELS
from streams.clock import Clock
from streams.incident_alerts import alert_for
from streams.incident_reasons import Reasons
from streams.incident_state import OPEN, Incident, Outcome, community_of, incident_id, parse_time

ALLOWED = {  # action -> statuses it may act on
    "ack": frozenset({"assigned"}), "resolve": OPEN, "reopen": frozenset({"resolved", "closed"}),
    "request_escalation": OPEN, "reassign": OPEN, "close_duplicate": OPEN,
}
SYSTEM = "system"


class IncidentEngine:
    """Every call takes one input (or the passing of time) and returns what it caused, as an Outcome."""

    def __init__(self, rules: Rules, clock: Clock, major_events: MajorEvents = MajorEvents(()),
                 places: Mapping[str, tuple[str, str | None]] | None = None, *, tz: str):
        self.rules, self.clock, self.major_events = rules, clock, major_events
        self.tz, self.words = tz, Reasons(tz)  # the street's time zone, for what people read
        self.places = places or {}  # owner id -> (level, community); for reassign
        self.incidents: dict[str, Incident] = {}
        self.seen: set[str] = set()  # report and action ids already applied: redeliveries are no-ops
        self._deadlines: list[tuple[datetime, str, str]] = []  # heap of (due, incident, kind)
        self._clusters: dict[tuple[str, str], list[str]] = {}  # (category, cell) -> incident ids

    # -- inputs ---------------------------------------------------------------------------------
    def report(self, report: dict) -> Outcome:
        """A located report opens an incident or joins a near, recent one of the same category."""
        out = self.due()
        if report["id"] in self.seen or not report.get("community"):
            return out  # a redelivery, or outside the street: nobody there to own it
        self.seen.add(report["id"])
        source = datetime.fromisoformat(report["event_time"])
        loc = report["location"]
        cell = h3.latlng_to_cell(loc["lat"], loc["lng"], self.rules.cluster_resolution)
        joined = self._cluster_match(report["category"], cell, source)
        if joined is None:
            self._open(report, cell, source, out)
        else:
            self._merge(joined, report, source, out)
        return out

    def action(self, action: dict) -> Outcome:
        """A person's action; an invalid one becomes an `action_rejected` event saying why."""
        out = self.due()
        if action["id"] in self.seen:
            return out
        self.seen.add(action["id"])
        inc = self.incidents.get(action["incident"])
        problem = self._refusal(inc, action)
        if problem:
            out.events.append(self._rejected(inc, action, problem))
            return out
        getattr(self, f"_do_{action['action']}")(inc, action, out)
        return out

    def due(self) -> Outcome:
        """Fire every deadline up to now, earliest first (an escalation's new deadline may be due too)."""
        out, now = Outcome(), self.clock.now()
        while now is not None and self._deadlines and self._deadlines[0][0] <= now:
            due, inc_id, kind = heapq.heappop(self._deadlines)
            inc = self.incidents.get(inc_id)
            if inc is not None and self._pending(inc, kind) == due:
                self._breach(inc, kind, due, out)
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
            self._clusters[(inc.category, inc.cell)].remove(inc_id)
        return len(gone)

    def next_deadline(self) -> datetime | None:
        return self._deadlines[0][0] if self._deadlines else None

    def apply_period(self, period: Period) -> None:
        """A major-event period switched on at run time (e.g. `redwall major-event start`)."""
        self.major_events = self.major_events.with_period(period)

    def restore(self, event: dict) -> None:
        """Rebuild from the incidents topic: the newest state of each incident, and what was seen."""
        self.seen.update(v for v in (event.get("report"), event.get("action")) if v)
        known = self.incidents.get(event["incident"])
        if event["kind"] == "action_rejected" or (known is not None and known.seq >= event["seq"]):
            return
        inc = Incident.from_event(event)
        self.incidents[inc.id] = inc
        if known is None:
            self._index(inc)
        self._push_deadlines(inc)

    # -- transitions ----------------------------------------------------------------------------
    def _open(self, report: dict, cell: str, source: datetime, out: Outcome) -> None:
        r, now, rules = report, self.clock.now(), self.rules
        zone = rules.sensitive_zone(r["category"], r["location"]["lat"], r["location"]["lng"])
        level = rules.zone_level if zone else rules.initial_level(r["category"], r["severity"])
        priority = rules.zone_priority if zone else rules.priority_by_severity.get(r["severity"], "normal")
        inc = Incident(incident_id(r["community"], r["id"]), r["street"], r["community"], r.get("grid"),
                       r["category"], r["severity"], priority, cell, "assigned", level, "", now, source)
        inc.owner = self._owner(inc, level)
        if zone:
            inc.flags.add("sensitive_zone")
        self.incidents[inc.id] = inc
        self._index(inc)
        self._set_deadlines(inc, now)
        why = self.words.sensitive_zone(zone.name, level) if zone else self.words.opened(r["category"], r["severity"], level)
        event = self._event(inc, "opened", now, r["device"], why, "sensitive_zone" if zone else "report",
                            report=r["id"])
        out.events.append(event)
        self._alert(out, event, "incident_opened", level, inc.owner, source)

    def _merge(self, inc: Incident, report: dict, source: datetime, out: Outcome) -> None:
        now = self.clock.now()
        inc.reports += 1
        inc.last_report_at = max(inc.last_report_at, source)
        out.events.append(self._event(inc, "report_merged", now, report["device"], self.words.merged(inc.reports),
                                      "cluster", report=report["id"]))
        if inc.reports >= self.rules.cluster_escalate_at and "cluster_escalated" not in inc.flags:
            inc.flags.add("cluster_escalated")
            why = self.words.cluster(inc.reports, inc.category, self.rules.cluster_window)
            self._escalate(inc, "cluster", now, SYSTEM, why, "cluster", out, source=source)

    def _escalate(self, inc: Incident, family: str, when: datetime, actor: str, why: str, code: str,
                  out: Outcome, *, source: datetime, action: str | None = None) -> bool:
        """One level up; beyond the street only if a ceiling rule allows it. False if not allowed."""
        if inc.level == "district" or (
                inc.level == "street" and not self.rules.ceiling_allows(inc.category, inc.severity, family)):
            return False
        old_level, old_owner = inc.level, inc.owner
        inc.level = LEVELS[LEVELS.index(old_level) + 1]
        inc.owner, inc.status = self._owner(inc, inc.level), "assigned"
        ceiling = inc.level == "district"
        if ceiling:
            inc.flags.add("ceiling_exceeded")
        self._set_deadlines(inc, when)
        event = self._event(inc, "escalated", when, actor, why, code, from_level=old_level, action=action,
                            ceiling=ceiling)
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

    def _refusal(self, inc: Incident | None, a: dict) -> str | None:
        words = self.words
        if inc is None:
            return words.unknown(a["incident"], community_of(a["incident"]))
        if inc.status not in ALLOWED[a["action"]]:
            return words.not_now(a["action"], inc.status, ALLOWED[a["action"]])
        if a["action"] == "reassign":
            level, community = self.places.get(a.get("owner", ""), (None, None))
            if level is None or (level != "street" and community != inc.community):
                return words.not_an_owner(a.get("owner"), inc.community)
        if a["action"] == "close_duplicate" and a.get("duplicate_of") not in self.incidents.keys() - {inc.id}:
            return words.not_a_duplicate(a.get("duplicate_of"))
        if a["action"] == "request_escalation" and (
                inc.level == "district" or inc.level == "street"
                and not self.rules.ceiling_allows(inc.category, inc.severity, "request")):
            return words.ceiling()
        return None

    def _do_ack(self, inc: Incident, a: dict, out: Outcome) -> None:
        inc.status, inc.ack_by = "acknowledged", None
        inc.missed.pop("acknowledge", None)
        out.events.append(self._action_event(inc, "acknowledged", a))

    def _do_resolve(self, inc: Incident, a: dict, out: Outcome) -> None:
        inc.status, inc.ack_by, inc.resolve_by, inc.closed_at = "resolved", None, None, self.clock.now()
        inc.missed.clear()
        out.events.append(self._action_event(inc, "resolved", a))

    def _do_close_duplicate(self, inc: Incident, a: dict, out: Outcome) -> None:
        inc.status, inc.ack_by, inc.resolve_by, inc.closed_at = "closed", None, None, self.clock.now()
        inc.missed.clear()
        out.events.append(self._action_event(inc, "closed", a, self.words.duplicate(a["duplicate_of"], a["reason"])))

    def _do_reopen(self, inc: Incident, a: dict, out: Outcome) -> None:
        inc.status, inc.closed_at = "assigned", None
        self._set_deadlines(inc, self.clock.now())
        event = self._action_event(inc, "reopened", a)
        out.events.append(event)
        self._alert(out, event, "incident_reopened", inc.level, inc.owner, parse_time(a["time"]))

    def _do_reassign(self, inc: Incident, a: dict, out: Outcome) -> None:
        old_level = inc.level
        inc.level, inc.owner, inc.status = self.places[a["owner"]][0], a["owner"], "assigned"
        self._set_deadlines(inc, self.clock.now())
        event = self._action_event(inc, "assigned", a, from_level=old_level)
        out.events.append(event)
        self._alert(out, event, "incident_assigned", inc.level, inc.owner, parse_time(a["time"]))

    def _do_request_escalation(self, inc: Incident, a: dict, out: Outcome) -> None:
        self._escalate(inc, "request", self.clock.now(), a["actor"], a["reason"], "request", out,
                       source=parse_time(a["time"]), action=a["id"])

    # -- helpers --------------------------------------------------------------------------------
    def _action_event(self, inc: Incident, kind: str, a: dict, why: str | None = None, **extra) -> dict:
        """An event an action caused; its reason is the person's own words unless `why` says more."""
        return self._event(inc, kind, self.clock.now(), a["actor"], why or a["reason"], a["action"],
                           action=a["id"], **extra)

    def _event(self, inc: Incident, kind: str, when: datetime, actor: str, reason: str, code: str, *,
               from_level: str | None = None, report: str | None = None, action: str | None = None,
               ceiling: bool = False) -> dict:
        inc.seq += 1
        event = {"id": f"{inc.id}:{inc.seq:05d}", "incident": inc.id, "seq": inc.seq, "kind": kind,
                 "when": when.isoformat(), "actor": actor, "reason": reason, "reason_code": code,
                 "to_level": inc.level, "street": inc.street, "community": inc.community,
                 "category": inc.category, "severity": inc.severity, "ceiling": "yes" if ceiling else "no",
                 "state": inc.state()}
        for key, value in (("from_level", from_level), ("report", report), ("action", action), ("grid", inc.grid)):
            if value:
                event[key] = value
        return event

    def _rejected(self, inc: Incident | None, a: dict, problem: str) -> dict:
        event = {"id": f"{a['incident']}:rejected:{a['id']}", "incident": a["incident"],
                 "seq": inc.seq if inc else 0, "kind": "action_rejected", "when": self.clock.now().isoformat(),
                 "actor": a["actor"], "reason": problem, "reason_code": f"rejected_{a['action']}",
                 "community": community_of(a["incident"]), "action": a["id"], "ceiling": "no"}
        if inc is not None:
            event.update(street=inc.street, category=inc.category, severity=inc.severity, to_level=inc.level,
                         state=inc.state())
        return event

    def _alert(self, out: Outcome, event: dict, kind: str, level: str, owner: str, source: datetime) -> None:
        """Alert the owner, unless the cause is older than the configured age (a replay, a late event)."""
        now = self.clock.now()
        if now - source > self.rules.alert_max_age:
            out.suppressed += 1
            return
        out.alerts.append(alert_for(event, kind, level, owner, source, now, self.tz))

    def _owner(self, inc: Incident, level: str) -> str:
        return {"grid": inc.grid or inc.community, "community": inc.community, "street": inc.street,
                "district": "district"}[level]

    def _set_deadlines(self, inc: Incident, when: datetime) -> None:
        d = self.rules.deadlines_for(inc.level, inc.category)
        factor = self.major_events.deadline_factor(when)
        inc.ack_by, inc.resolve_by = when + d.acknowledge * factor, when + d.resolve * factor
        inc.missed.clear()
        self._push_deadlines(inc)

    def _push_deadlines(self, inc: Incident) -> None:
        for kind in ("acknowledge", "resolve"):
            due = self._pending(inc, kind)
            if due is not None:
                heapq.heappush(self._deadlines, (due, inc.id, kind))

    @staticmethod
    def _pending(inc: Incident, kind: str) -> datetime | None:
        if kind in inc.missed:
            return None  # chased once already; it stays overdue, it does not fire again
        if kind == "acknowledge":
            return inc.ack_by if inc.status == "assigned" else None
        return inc.resolve_by if inc.status in OPEN else None

    def _index(self, inc: Incident) -> None:
        self._clusters.setdefault((inc.category, inc.cell), []).append(inc.id)

    def _cluster_match(self, category: str, cell: str, source: datetime) -> Incident | None:
        window, best = self.rules.cluster_window, None
        for near in h3.grid_disk(cell, self.rules.cluster_ring):
            for inc_id in self._clusters.get((category, near), ()):
                inc = self.incidents[inc_id]
                if inc.status in OPEN and abs(source - inc.last_report_at) <= window and (
                        best is None or (inc.last_report_at, inc.id) > (best.last_report_at, best.id)):
                    best = inc
        return best

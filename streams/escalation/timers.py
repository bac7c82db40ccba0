"""An incident's clocks in the engine: started at each level (opened, escalated, reassigned, reopened),
recomputed by clocks.py from the state after every change that can move them (a pause, a resume, an
approval, an extension), and fired from a heap: the early warning (预警, `warned` and `deadline_warning`
to the owner, once per deadline value) and the breach (escalation, or deadline_missed at the street).
Mixed into `IncidentEngine`; pure, like it. Heap entries are checked against the incident when they come
due, so a moved deadline only needs a new entry: the old one finds it changed and does nothing."""

from __future__ import annotations

import heapq
from datetime import datetime

from streams.escalation import clocks
from streams.escalation.state import OPEN, Incident, Outcome

SYSTEM = "system"


class DeadlineTimers:
    """IncidentEngine's clocks; expects its rules, calendar, major events, clock and event helpers."""

    def _start_clock(self, inc: Incident, when: datetime) -> None:
        """The current level's clocks start at `when`, with the incident's own limits (an incident from
        before limits were kept takes today's)."""
        if inc.limits is None:
            rules = self.rules_of(inc)
            inc.rules, inc.limits = rules.version, rules.limits_for(inc.category)
        inc.clock = {"since": when.isoformat(), "factor": self.major_events.deadline_factor(when), "paused": []}
        inc.missed.clear()
        inc.warned.clear()
        self._refresh(inc, self.clock.now())

    def _refresh(self, inc: Incident, now: datetime | None) -> None:
        """Deadlines and warnings from the state (and, with `now`, what is left while stopped); scheduled."""
        c = clocks.deadlines(inc.state(), self.calendar, now, self.rules_of(inc).warn_at)
        inc.ack_by, inc.resolve_by = c.due.get("acknowledge"), c.due.get("resolve")
        inc.warn_at = {kind: at for kind, at in c.warn.items() if at is not None}
        if now is not None:
            inc.remaining = c.remaining
        for kind in clocks.KINDS:
            for what in ("warn", "breach"):
                at = self._pending(inc, kind, what)
                if at is not None:
                    heapq.heappush(self._deadlines, (at, inc.id, kind, what))

    def due(self) -> Outcome:
        """Fire every warning and deadline up to now, earliest first (an escalation's may be due too)."""
        out, now = Outcome(), self.clock.now()
        while now is not None and self._deadlines and self._deadlines[0][0] <= now:
            at, inc_id, kind, what = heapq.heappop(self._deadlines)
            inc = self.incidents.get(inc_id)
            if inc is None or self._pending(inc, kind, what) != at:
                continue  # moved, done or forgotten since it was scheduled
            if what == "breach":
                self._breach(inc, kind, at, out)
            elif self._pending(inc, kind, "breach") > now:  # a warning after its own deadline says nothing
                self._warn(inc, kind, at, out)
        return out

    @staticmethod
    def _pending(inc: Incident, kind: str, what: str = "breach") -> datetime | None:
        if kind in inc.missed:
            return None  # chased once already; it stays overdue, it does not fire again
        if kind == "acknowledge":
            due = inc.ack_by if inc.status == "assigned" else None
        else:
            due = inc.resolve_by if inc.status in OPEN else None
        if what == "breach" or due is None:
            return due
        return None if inc.warned.get(kind) == due.isoformat() else inc.warn_at.get(kind)

    def _warn(self, inc: Incident, kind: str, at: datetime, out: Outcome) -> None:
        due = self._pending(inc, kind)
        inc.warned[kind] = due.isoformat()
        why = self.words.warning(kind, due, self.rules_of(inc).warn_at)
        event = self._event(inc, "warned", at, SYSTEM, why, f"warning_{kind}")
        out.events.append(event)
        self._alert(out, event, "deadline_warning", inc.level, inc.owner, at)

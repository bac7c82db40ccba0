"""People's actions on an incident (ack, resolve, reopen, request_escalation, reassign, close_duplicate;
the pauses and requests are streams/escalation/requests.py): when each is allowed, and what it changes. Mixed into `IncidentEngine` (streams/escalation/engine.py), whose
state and helpers it uses; pure, like the engine. A refused action becomes an `action_rejected` event
saying why, in Chinese."""

from __future__ import annotations

from schemas.records import UNLOCATED
from streams.escalation import requests
from streams.escalation.state import OPEN, Incident, Outcome, community_of, incident_id, parse_time

ALLOWED = {  # action -> statuses it may act on
    "ack": frozenset({"assigned"}),
    "resolve": OPEN,
    "reopen": frozenset({"resolved", "closed"}),
    "request_escalation": OPEN,
    "reassign": OPEN,
    "close_duplicate": OPEN,
    **requests.ALLOWED,
}


class PeopleActions:
    """IncidentEngine's actions; expects its incidents, places, words, clock and event helpers."""

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

    def _refusal(self, inc: Incident | None, a: dict) -> str | None:
        words = self.words
        if inc is None:
            return words.unknown(a["incident"], community_of(a["incident"]))
        if inc.status not in ALLOWED[a["action"]]:
            return words.not_now(a["action"], inc.status, ALLOWED[a["action"]])
        if a["action"] in requests.REQUEST_ACTIONS:
            return self._request_refusal(inc, a)
        if a["action"] == "reassign":
            return self._reassign_refusal(inc, a.get("owner"))
        if a["action"] == "close_duplicate" and a.get("duplicate_of") not in self.incidents.keys() - {inc.id}:
            return words.not_a_duplicate(a.get("duplicate_of"))
        if a["action"] == "request_escalation" and (
            inc.level == "district"
            or inc.level == "street"
            and not self.rules_of(inc).ceiling_allows(inc.category, inc.severity, "request")
        ):
            return words.ceiling()
        return None

    def _reassign_refusal(self, inc: Incident, owner: str | None) -> str | None:
        """A grid or community of the incident's own community, or the street; an unlocated incident goes
        to a grid or community of the street, as long as its report is at hand to open an incident there."""
        level, community = self.places.get(owner or "", (None, None))
        if inc.community != UNLOCATED:
            return (
                None
                if (level == "street" and owner == inc.street) or (level and community == inc.community)
                else self.words.not_an_owner(owner, inc.community)
            )
        if level not in ("grid", "community"):
            return self.words.place_it(owner)
        return None if inc.id in self.unlocated else self.words.report_gone()

    def _do_ack(self, inc: Incident, a: dict, out: Outcome) -> None:
        inc.status = "acknowledged"
        inc.missed.pop("acknowledge", None)
        self._refresh(inc, self.clock.now())
        out.events.append(self._action_event(inc, "acknowledged", a))

    def _do_resolve(self, inc: Incident, a: dict, out: Outcome) -> None:
        self._end(inc, "resolved")
        out.events.append(self._action_event(inc, "resolved", a))

    def _do_close_duplicate(self, inc: Incident, a: dict, out: Outcome) -> None:
        self._end(inc, "closed")
        out.events.append(self._action_event(inc, "closed", a, self.words.duplicate(a["duplicate_of"], a["reason"])))

    def _end(self, inc: Incident, status: str) -> None:
        inc.status, inc.closed_at = status, self.clock.now()
        inc.missed.clear()
        inc.pause, inc.requests = None, []  # a request on a closed case is dropped
        self._refresh(inc, inc.closed_at)

    def _do_reopen(self, inc: Incident, a: dict, out: Outcome) -> None:
        inc.status, inc.closed_at = "assigned", None
        self._start_clock(inc, self.clock.now())
        event = self._action_event(inc, "reopened", a)
        out.events.append(event)
        self._alert(out, event, "incident_reopened", inc.level, inc.owner, parse_time(a["time"]))

    def _do_reassign(self, inc: Incident, a: dict, out: Outcome) -> None:
        if inc.community == UNLOCATED:
            return self._place(inc, a, out)
        old_level = inc.level
        inc.level, inc.owner, inc.status = self.places[a["owner"]][0], a["owner"], "assigned"
        self._start_clock(inc, self.clock.now())
        event = self._action_event(inc, "assigned", a, from_level=old_level)
        out.events.append(event)
        self._alert(out, event, "incident_assigned", inc.level, inc.owner, parse_time(a["time"]))

    def _place(self, inc: Incident, a: dict, out: Outcome) -> None:
        """The street places an unlocated incident: it is closed, saying where it went, and its report is
        published again, located in that community (and grid), to open an incident there."""
        level, community = self.places[a["owner"]]
        report = {
            **self.unlocated[inc.id],
            "street": self.streets.get(community, self.unlocated_owner),
            "community": community,
            "grid": a["owner"] if level == "grid" else None,
        }
        self._end(inc, "closed")
        why = self.words.placed(a["owner"], community, incident_id(community, report["id"]), a["reason"])
        out.events.append(self._action_event(inc, "closed", a, why))
        out.reports.append(report)

    def _do_request_escalation(self, inc: Incident, a: dict, out: Outcome) -> None:
        self._escalate(
            inc,
            "request",
            self.clock.now(),
            a["actor"],
            a["reason"],
            "request",
            out,
            source=parse_time(a["time"]),
            action=a["id"],
        )

    def _action_event(self, inc: Incident, kind: str, a: dict, why: str | None = None, **extra) -> dict:
        """An event an action caused; its reason is the person's own words unless `why` says more."""
        return self._event(
            inc, kind, self.clock.now(), a["actor"], why or a["reason"], a["action"], action=a["id"], **extra
        )

    def _rejected(self, inc: Incident | None, a: dict, problem: str) -> dict:
        event = {
            "id": f"{a['incident']}:rejected:{a['id']}",
            "incident": a["incident"],
            "seq": inc.seq if inc else 0,
            "kind": "action_rejected",
            "when": self.clock.now().isoformat(),
            "actor": a["actor"],
            "reason": problem,
            "reason_code": f"rejected_{a['action']}",
            "community": community_of(a["incident"]),
            "action": a["id"],
            "ceiling": "no",
        }
        if inc is not None:
            event.update(
                street=inc.street, category=inc.category, severity=inc.severity, to_level=inc.level, state=inc.state()
            )
        return event

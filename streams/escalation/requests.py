"""The actions that stop or change an incident's clocks, and the street's answers to them: pause (挂起,
with a typed reason) and resume; extend (延期, a longer resolve limit) and return (退回, not ours: the unit
it belongs to), which wait in `state.requests` for a street dispatcher's approve or deny. A pause counts
at once, but unapproved only until `counts_until` (`[pause] approve_after` of working time); it waits in
the requests too, until approved or ended. Each request pages the street (`approval_requested`).

Mixed into `IncidentEngine` (after PeopleActions, whose `_refusal` asks `_request_refusal`); pure. Which
roles may take each action is the HTTP view's business (`[actions.roles]`, streams/http/actions.py)."""

from __future__ import annotations

from config.calendar import NotCovered
from config.spans import parse_span
from streams.escalation import clocks
from streams.escalation.state import OPEN, Incident, Outcome, parse_time

REQUEST_ACTIONS = ("pause", "resume", "extend", "return", "approve", "deny")
ALLOWED = dict.fromkeys(REQUEST_ACTIONS, OPEN)


class Requests:
    """IncidentEngine's pause, resume, extend, return, approve and deny."""

    def _request_refusal(self, inc: Incident, a: dict) -> str | None:
        kind, words = a["action"], self.words
        if kind == "pause" and inc.pause:
            return words.already_paused(inc.pause["since"])
        if kind == "resume" and not inc.pause:
            return words.not_paused()
        if kind in ("extend", "return") and any(r["kind"] == kind for r in inc.requests):
            return words.pending(kind)
        if kind == "extend":
            try:
                longer = self._longer(inc, a["limit"])
            except NotCovered:  # a limit no calendar year can hold is refused, never guessed
                return words.beyond_calendar(a["limit"])
            if not longer:
                return words.not_longer(a["limit"], clocks.limit(inc.state(), "resolve").text)
        if kind in ("approve", "deny") and self._request(inc, a.get("request")) is None:
            return words.no_request(a.get("request"))
        return None

    def _longer(self, inc: Incident, written: str) -> bool:
        """Whether `written` ends later than the current resolve limit, both counted from the clock's start."""
        state, since = inc.state(), parse_time(inc.clock["since"])
        new = parse_span(written) * inc.clock["factor"]
        return self.calendar.deadline(since, new) > self.calendar.deadline(since, clocks.limit(state, "resolve"))

    def _do_pause(self, inc: Incident, a: dict, out: Outcome) -> None:
        now = self.clock.now()
        until = self.calendar.deadline(now, self.rules_of(inc).approve_after).astimezone(now.tzinfo)
        inc.pause = {
            "since": now.isoformat(),
            "reason": a["pause_reason"],
            "action": a["id"],
            "actor": a["actor"],
            "counts_until": until.isoformat(),
        }
        inc.requests.append(self._entry(a, "pause"))
        self._refresh(inc, now)
        self._ask(inc, a, out, "paused", self.words.paused(a["pause_reason"], a["reason"], until))

    def _do_resume(self, inc: Incident, a: dict, out: Outcome) -> None:
        since = inc.pause["since"]
        self._end_pause(inc)
        out.events.append(self._action_event(inc, "resumed", a, self.words.resumed(since, a["reason"])))

    def _do_extend(self, inc: Incident, a: dict, out: Outcome) -> None:
        inc.requests.append(self._entry(a, "extend", limit=a["limit"]))
        self._ask(inc, a, out, "requested", self.words.requested("extend", a["limit"], a["reason"]))

    def _do_return(self, inc: Incident, a: dict, out: Outcome) -> None:
        inc.requests.append(self._entry(a, "return", unit=a["unit"]))
        self._ask(inc, a, out, "requested", self.words.requested("return", a["unit"], a["reason"]))

    def _do_approve(self, inc: Incident, a: dict, out: Outcome) -> None:
        request = self._take(inc, a["request"])
        why = self.words.answered(request["kind"], True, request["actor"], a["reason"])
        if request["kind"] == "return":
            self._end(inc, "closed")
            inc.flags.add("returned")
            why = self.words.returned(request["unit"], a["reason"])
            out.events.append(self._action_event(inc, "returned", a, why))
            return
        if request["kind"] == "pause":  # it now counts until resumed, however long
            inc.pause.pop("counts_until", None)
            inc.pause["approved_by"] = a["actor"]
        else:
            inc.clock["extended"] = request["limit"]
        self._refresh(inc, self.clock.now())
        kind = "approved" if request["kind"] == "pause" else "extended"
        out.events.append(self._action_event(inc, kind, a, why))

    def _do_deny(self, inc: Incident, a: dict, out: Outcome) -> None:
        request = self._take(inc, a["request"])
        if request["kind"] == "pause":  # refused: the clocks run again (what counted until now stays)
            self._end_pause(inc)
        why = self.words.answered(request["kind"], False, request["actor"], a["reason"])
        out.events.append(self._action_event(inc, "denied", a, why))

    # -- helpers --------------------------------------------------------------------------------
    def _end_pause(self, inc: Incident) -> None:
        """The open pause ends now: its counted part joins the clock's, and the deadlines move."""
        now = self.clock.now()
        inc.clock["paused"].append(clocks.counted_pause(inc.pause, now))
        inc.requests = [r for r in inc.requests if r["action"] != inc.pause["action"]]
        inc.pause = None
        self._refresh(inc, now)

    def _entry(self, a: dict, kind: str, **detail) -> dict:
        return {"action": a["id"], "kind": kind, "actor": a["actor"], "at": self.clock.now().isoformat(), **detail}

    @staticmethod
    def _request(inc: Incident, action_id) -> dict | None:
        return next((r for r in inc.requests if r["action"] == action_id), None)

    def _take(self, inc: Incident, action_id: str) -> dict:
        request = self._request(inc, action_id)
        inc.requests.remove(request)
        return request

    def _ask(self, inc: Incident, a: dict, out: Outcome, kind: str, why: str) -> None:
        """The event of a request, and the street's page to answer it."""
        event = self._action_event(inc, kind, a, why)
        out.events.append(event)
        self._alert(out, event, "approval_requested", "street", inc.street, parse_time(a["time"]))

"""An incident's clocks, from its state alone: the deadlines to acknowledge and to resolve, when each
early warning (预警) falls, and, while an approved pause stops them, what is left of each. The one place
in Python that computes them, so a replay and a rebuilt worker agree to the second; the state's ack_by and
resolve_by carry the answer to the sink, and the console's page counts time left from the same state on the
calendar it is served (consumers/console/static/worktime.js). Pure: the calendar is passed in.

The inputs are the state's `limits` (fixed when the incident opened), `clock` (since, factor, extended,
the ended pauses that counted) and `pause` (the open one): an unapproved pause stops the clocks only
until its `counts_until`; an approved one until it is resumed. A state from before the clocks were kept
(no `clock`) keeps the deadlines it was written with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from config.calendar import Pause, WorkingCalendar
from config.spans import Span, parse_span

KINDS = ("acknowledge", "resolve")
FIELD = {"acknowledge": "ack_by", "resolve": "resolve_by"}


@dataclass(frozen=True)
class Clocks:
    """`due` and `warn` per running deadline (None: stopped by an approved pause); `remaining`: seconds
    left of each stopped one, in its own measure (working or calendar), when `now` was given."""

    due: dict[str, datetime | None] = field(default_factory=dict)
    warn: dict[str, datetime | None] = field(default_factory=dict)
    remaining: dict[str, float] = field(default_factory=dict)


def running(state: dict) -> tuple[str, ...]:
    """The deadlines that run in this status: acknowledge while assigned, resolve while open."""
    return {"assigned": KINDS, "acknowledged": ("resolve",)}.get(state["status"], ())


def limit(state: dict, kind: str) -> Span:
    """The limit of `kind` at the current level, an approved extension's for resolve, times the factor."""
    clock = state["clock"]
    written = clock.get("extended") if kind == "resolve" else None
    return parse_span(written or state["limits"][state["level"]][kind]) * clock["factor"]


def pauses(state: dict, now: datetime | None = None) -> list[Pause]:
    """The stretches that do not count: the ended pauses, and the open one (to `counts_until`; to None
    when approved, or to `now` when given, to measure what is left)."""
    out: list[Pause] = [(_t(p["from"]), _t(p["to"])) for p in state["clock"]["paused"]]
    pause = state.get("pause")
    if pause:
        end = _t(pause["counts_until"]) if "counts_until" in pause else now
        out.append((_t(pause["since"]), end))
    return out


def counted_pause(pause: dict, end: datetime) -> dict:
    """The part of an open pause that counted, once it ends at `end` (for `clock.paused`)."""
    until = _t(pause["counts_until"]) if "counts_until" in pause else end
    return {"from": pause["since"], "to": max(min(until, end), _t(pause["since"])).isoformat()}


def deadlines(state: dict, calendar: WorkingCalendar, now: datetime | None = None, warn_at: float = 0.8) -> Clocks:
    """The incident's clocks: deadlines, warnings and (with `now`) what is left while stopped."""
    if "clock" not in state:
        return Clocks({k: _t(state.get(FIELD[k])) for k in running(state)})
    out, since, stops = Clocks(), _t(state["clock"]["since"]), pauses(state)
    for kind in running(state):
        span = limit(state, kind)
        out.due[kind] = _like(calendar.deadline(since, span, stops), since)
        out.warn[kind] = _like(calendar.deadline(since, span * warn_at, stops), since) if out.due[kind] else None
        if out.due[kind] is None and now is not None:
            out.remaining[kind] = calendar.remaining(since, span, now, pauses(state, now))
    return out


def _like(when: datetime | None, since: datetime) -> datetime | None:
    """In the zone the clock started in (the calendar answers in the street's): one way to write an instant."""
    return None if when is None else when.astimezone(since.tzinfo)


def _t(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)

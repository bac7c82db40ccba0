"""The sample week's incidents: its reports through the real escalation engine (pure), with dispatchers who
acknowledge and resolve most incidents in time, some late (the engine escalates them), and now and then ask
the street to take one. Actions after the week's end are not taken: those incidents are still open on Monday.
"""

from __future__ import annotations

import heapq
import random
from datetime import datetime, timedelta

from config.calendar import load_calendar
from config.major_events import load_major_events
from config.rules import load_rules
from config.settings import Settings
from streams.clock import EventClock
from streams.escalation.agents import places_of
from streams.escalation.engine import IncidentEngine
from streams.geofence.registry import GridRegistry

LATE_SHARE = 0.12  # incidents acknowledged only after hours: most miss their deadline
REQUEST_SHARE = 0.04  # incidents the community asks the street to take
# Means of the exponential delays, against the sample rules (grid: acknowledge 30 min, resolve 4 h): about
# 5 % of the prompt acknowledgements and 8 % of the resolutions are late on their own.
ACK_MINUTES, LATE_HOURS, RESOLVE_HOURS = 10, 6, 1.5


def run_engine(
    registry: GridRegistry, reports: list[dict], settings: Settings, rng: random.Random, *, until: datetime
) -> list[dict]:
    """Every incident event the engine makes of `reports` (in time order) and the dispatchers' actions."""
    engine = IncidentEngine(
        load_rules(settings.escalation_rules_path),
        EventClock(),
        load_major_events(settings.major_events_path, set(registry.grids)),
        places_of(registry),
        tz=settings.timezone,
        calendar=load_calendar(settings.calendar_path, settings.holidays_path, settings.timezone, cover_check=False),
    )
    events: list[dict] = []
    planned: list[tuple[datetime, int, dict]] = []
    for report in sorted(reports, key=lambda r: r["event_time"]):
        when = datetime.fromisoformat(report["event_time"])
        _act(engine, planned, when, events)
        out = engine.report(report)
        events += out.events
        for event in out.events:
            if event["kind"] == "opened":
                _plan(planned, event, when, rng, until)
    _act(engine, planned, until, events)
    return events


def _act(engine: IncidentEngine, planned: list, until: datetime, events: list[dict]) -> None:
    """Take the actions planned up to `until`, in time order, the engine's clock following them."""
    while planned and planned[0][0] <= until:
        when, _, action = heapq.heappop(planned)
        engine.clock.observe(when)
        events += engine.action(action).events
    engine.clock.observe(until)
    events += engine.due().events


def _plan(planned: list, opened: dict, when: datetime, rng: random.Random, until: datetime) -> None:
    incident, desk = opened["incident"], f"desk-{opened['community']}"
    late = rng.random() < LATE_SHARE
    ack = when + (timedelta(hours=rng.expovariate(1 / LATE_HOURS)) if late else _minutes(rng, ACK_MINUTES))
    steps = [(ack, "ack")]
    if rng.random() < REQUEST_SHARE:
        steps.append((ack + _minutes(rng, 30), "request_escalation"))
    steps.append((ack + timedelta(hours=rng.expovariate(1 / RESOLVE_HOURS)), "resolve"))
    for n, (at, verb) in enumerate(steps):
        if at <= until:
            action = {
                "id": f"{incident}:{verb}",
                "incident": incident,
                "action": verb,
                "actor": desk,
                "reason": "样例处置 / sample",
                "time": at.isoformat(),
            }
            heapq.heappush(planned, (at, len(planned) * 4 + n + rng.random(), action))


def _minutes(rng: random.Random, mean: float) -> timedelta:
    return timedelta(minutes=rng.expovariate(1 / mean))

"""The working-time engine tests' setting (unit, property and integration): Beijing times, the sample rules
with resolve limits in working time, and an engine on a hand-set clock with the default working calendar."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from config.rules import DEFAULT_RULES, load_rules
from schemas.records import Alert, IncidentEvent
from streams.escalation.agents import places_of
from streams.escalation.engine import IncidentEngine
from tests.support.clock import ManualClock
from tests.support.incident_factories import TZ, action, calendar, located, registry

TUESDAY = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, a working day
CALENDAR = calendar()


def bj(day: str, hm: str) -> datetime:
    """A Beijing wall-clock time, as the instant it is (in UTC, as the phones send it)."""
    return datetime.fromisoformat(f"{day}T{hm}:00+08:00").astimezone(UTC)


def working_rules_file(directory) -> Path:
    """The sample rules with resolve limits in working time: grid 4 working hours, community 3 working days."""
    text = DEFAULT_RULES.read_text(encoding="utf-8")
    for old, new in (
        ('[deadlines.grid]          # rule 2: acknowledge-by and resolve-by per level\nacknowledge = "30m"\nresolve = "4h"',
         '[deadlines.grid]\nacknowledge = "30m"\nresolve = "4wh"'),
        ('[deadlines.community]\nacknowledge = "1h"\nresolve = "24h"', '[deadlines.community]\nacknowledge = "1h"\nresolve = "3wd"'),
        ('file = "sample/', f'file = "{DEFAULT_RULES.parent}/sample/'),
    ):  # fmt: skip
        assert old in text
        text = text.replace(old, new)
    path = directory / "escalation.toml"
    path.write_text(text, encoding="utf-8")
    return path


def working_rules(directory):
    return load_rules(working_rules_file(directory))


def checked(outcome):
    """Every event and alert the engine makes must pass its published schema."""
    for event in outcome.events:
        IncidentEvent.validate(event)
    for alert in outcome.alerts:
        Alert.validate(alert)
    return outcome


def engine_at(rules, when: datetime) -> tuple[IncidentEngine, ManualClock]:
    clock = ManualClock(when)
    return IncidentEngine(rules, clock, places=places_of(registry()), tz=TZ, calendar=CALENDAR), clock


def opened_and_acked(engine, clock, severity="medium") -> str:
    """A sanitation incident (medium: the grid; high: the community), acknowledged at once."""
    inc = checked(engine.report(located("r1", "sanitation", severity, at=clock.now()))).events[0]["incident"]
    checked(engine.action(action("ack", inc, "ack", clock.now())))
    return inc


def act(engine, clock, when: datetime, verb: str, inc: str, actor="c03-staff", **extra):
    clock.set(when)
    return checked(engine.action(action(f"{verb}-{when:%d%H%M}", inc, verb, when, actor=actor, **extra)))

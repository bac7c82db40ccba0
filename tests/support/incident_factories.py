"""Located reports and actions for the escalation tests (unit and integration), and the engine as a
worker runs it, as a model to compare a real worker with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from config.calendar import WorkingCalendar, load_calendar
from config.rules import Rules, load_rules
from config.settings import Settings
from schemas import json
from streams.clock import EventClock
from streams.escalation.agents import places_of
from streams.escalation.engine import IncidentEngine, Outcome, incident_id
from streams.escalation.keys import IncidentKeys
from streams.geofence.registry import GridRegistry

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
TZ = "Asia/Shanghai"  # the street's zone: what people read is in it
PLAIN = (39.8969, 116.3828)  # in c03-g01, outside every sensitive zone
ZONE = (39.9085, 116.3870)  # in c05-g02, inside the sample zone "zone-key-site-east"


@lru_cache(maxsize=4)
def calendar(tz: str = TZ) -> WorkingCalendar:
    """The environment's working calendar in `tz` (the tests' holidays: tests/conftest.py), unchecked for cover."""
    s = Settings.from_env()
    return load_calendar(s.calendar_path, s.holidays_path, tz, cover_check=False)


@lru_cache(maxsize=1)
def registry() -> GridRegistry:
    return GridRegistry.from_settings(Settings.from_env())


@lru_cache(maxsize=1)
def keys() -> IncidentKeys:
    """The keys the worker gives incident-bound records on the sample map."""
    return IncidentKeys(registry().geometry)


def located(
    report_id: str,
    category: str = "sanitation",
    severity: str = "medium",
    where=PLAIN,
    at: datetime = T0,
    device: str = "dev-0001",
) -> dict:
    """A LocatedReport as the geofence agent emits it."""
    lat, lng = where
    place = registry().locate(lat, lng)
    return {
        "id": report_id,
        "device": device,
        "category": category,
        "severity": severity,
        "text": "测试 / test",
        "location": {"lat": lat, "lng": lng, "accuracy": 5.0},
        "event_time": at.isoformat(),
        "street": place.street,
        "community": place.community,
        "grid": place.grid,
        "cell": registry().cell(lat, lng),
        **({"courtyard": place.courtyard} if place.courtyard else {}),  # as the geofence agent puts it
    }


def action(action_id: str, incident: str, verb: str, at: datetime, actor: str = "staff-1", **extra) -> dict:
    return {
        "id": action_id,
        "incident": incident,
        "action": verb,
        "actor": actor,
        "reason": f"{verb} by test",
        "time": at.isoformat(),
        **extra,
    }


async def produce_reports(settings, reports: list[dict]) -> None:
    """Keyed by street, as the geofencer keys them, so one street's reports reach the engine in time order."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.broker, linger_ms=5)
    await producer.start()
    try:
        for r in reports:
            raw = {k: v for k, v in r.items() if k not in ("street", "community", "grid", "courtyard", "cell")}
            await (await producer.send(settings.topic_reports, json.dumps(raw), key=keys().of(r["community"])))
    finally:
        await producer.stop()


def nearby(where, step: int) -> tuple[float, float]:
    """A point about 15 m * step north-east of `where`: the same clustering neighbourhood for small steps."""
    return (round(where[0] + 0.0001 * step, 7), round(where[1] + 0.0001 * step, 7))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


class Model:
    """The engine as the worker runs it: one engine and one event clock per partition; a report the street
    places goes back in, as the worker publishes it to the located reports."""

    def __init__(self, partitions: int, rules: Rules | None = None):
        self.partitions = partitions
        rules, places = rules or load_rules(), places_of(registry())
        self.engines = [
            IncidentEngine(rules, EventClock(), places=places, tz=TZ, calendar=calendar(), streets=keys().streets_of)
            for _ in range(partitions)
        ]
        self.events, self.alerts = [], []

    def engine(self, key: bytes) -> IncidentEngine:
        every = list(range(self.partitions))
        return self.engines[DefaultPartitioner()(key, every, every)]

    def keep(self, out: Outcome) -> Outcome:
        self.events += out.events
        self.alerts += out.alerts
        for report in out.reports:
            self.report(report)
        return out

    def report(self, r: dict) -> Outcome:
        engine = self.engine(keys().of(r.get("community")))
        engine.clock.observe(datetime.fromisoformat(r["event_time"]))
        return self.keep(engine.report(r))

    def action(self, a: dict) -> Outcome:
        engine = self.engine(keys().of_incident(a["incident"]))
        engine.clock.observe(datetime.fromisoformat(a["time"]))
        return self.keep(engine.action(a))

    def tick(self, when: datetime) -> None:
        for engine in self.engines:
            engine.clock.observe(when)
            self.keep(engine.due())

    def incident(self, report_id: str):
        tail = incident_id("", report_id)[-12:]
        return next(i for e in self.engines for i in e.incidents.values() if i.id.endswith(tail))

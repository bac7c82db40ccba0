"""The escalation engine on the Faust app: one agent over located reports and actions (both keyed by
street, streams/escalation/keys.py, so a street's reports, actions and incidents meet on one partition),
a deadline timer, and per-partition state rebuilt whenever a partition is assigned: from PostgreSQL as far
as the sink has written, then from the topics (streams/escalation/rebuild.py)."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from datetime import datetime

import faust
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from config.calendar import WorkingCalendar, load_calendar
from config.major_events import MajorEvents, load_major_events
from config.rules import Rules, load_rules
from schemas import json
from schemas.fields import FieldError
from schemas.records import IncidentAction
from streams import clock as clocks
from streams.escalation.control import control_record, period_of
from streams.escalation.engine import IncidentEngine, Outcome
from streams.escalation.keys import IncidentKeys
from streams.escalation.places import Places, places_of
from streams.escalation.rebuild import History
from streams.faust_consumer import handling
from streams.geofence.registry import GridRegistry
from streams.metrics import show
from streams.produce import Out, send_all

log = logging.getLogger(__name__)

BATCH_RECORDS = 500
BATCH_WITHIN_SECONDS = 0.02  # short: report-to-alert latency is what people wait on
# Faust fixes fetch_max_wait_ms at 1500. Tansu does not answer a waiting fetch when data arrives, so
# every hop waited up to that long (measured: 480-1230 ms per hop idle, 20-45 ms at 50). On Apache
# Kafka a short wait only costs a few more empty fetches on an idle topic.
FETCH_MAX_WAIT_MS = 50


class EscalationMetrics:
    """Counted by the street of the incident: a district's dashboards and alerts pick one street. Bounded:
    343 streets x the reasons and levels below (docs/operations.md)."""

    def __init__(self, registry: CollectorRegistry):
        self.opened = Counter(
            "redwall_incidents_opened_total",
            "Incidents opened, by street, initial level and reason",
            ["street", "level", "reason"],
            registry=registry,
        )
        self.escalated = Counter(
            "redwall_incidents_escalated_total",
            "Escalations, by street, new level and reason",
            ["street", "level", "reason"],
            registry=registry,
        )
        self.breaches = Counter(
            "redwall_incident_deadline_breaches_total",
            "Missed deadlines, by street, the level that missed them and the deadline",
            ["street", "level", "deadline"],
            registry=registry,
        )
        self.ceiling = Counter(
            "redwall_ceiling_exceeded_total",
            "Escalations beyond the street (by explicit rule), by street and reason",
            ["street", "reason"],
            registry=registry,
        )
        self.rejected = Counter(
            "redwall_incident_actions_rejected_total",
            "Actions refused, by street and action",
            ["street", "action"],
            registry=registry,
        )
        self.alerts = Counter(
            "redwall_incident_alerts_total",
            "Incident alerts, emitted or held back as stale, by street",
            ["street", "outcome"],
            registry=registry,
        )
        self.open = Gauge(
            "redwall_incidents_open", "Open incidents held by this worker, by street", ["street"], registry=registry
        )
        self.shown_open: set[tuple[str, ...]] = set()
        self.rebuild_seconds = Histogram(
            "redwall_incident_rebuild_seconds",
            "Time to rebuild assigned partitions (PostgreSQL, then the topics)",
            registry=registry,
            buckets=(0.5, 1, 2, 5, 10, 30, 60),
        )
        self.rebuilt = Counter(
            "redwall_incident_rebuild_records_total",
            "What rebuilds took: incident states from PostgreSQL, events read on from the topic",
            ["source"],
            registry=registry,
        )

    def count(self, outcome: Outcome) -> None:
        for e in outcome.events:
            # An action refused for an incident nobody holds names no place: counted under no street.
            kind, code, street = e["kind"], e["reason_code"], e.get("street", "")
            if kind == "opened":
                self.opened.labels(street, e["to_level"], code).inc()
            elif kind == "escalated":
                self.escalated.labels(street, e["to_level"], code).inc()
            elif kind == "action_rejected":
                self.rejected.labels(street, code.removeprefix("rejected_")).inc()
            if code.startswith("deadline_") and kind in ("escalated", "deadline_missed"):
                self.breaches.labels(street, e["from_level"], code.removeprefix("deadline_")).inc()
            if e["ceiling"] == "yes":
                self.ceiling.labels(street, code).inc()
        for a in outcome.alerts:
            self.alerts.labels(a["street"], "emitted").inc()
        for street in outcome.suppressed:
            self.alerts.labels(street, "stale").inc()

    def count_open(self, engines) -> None:
        """Open incidents per street; a street whose partition left this worker drops out (its new worker
        counts it), so summing over workers counts each once."""
        by_street = collections.Counter(
            i.street for e in engines for i in e.incidents.values() if i.status in ("assigned", "acknowledged")
        )
        self.shown_open = show(self.open, self.shown_open, {(s,): n for s, n in by_street.items()})


class Escalation:
    """The engines of this worker's partitions, and how records reach them and results leave."""

    def __init__(
        self,
        app: faust.App,
        settings,
        rules: Rules,
        major: MajorEvents,
        places: Places,
        metrics,
        *,
        calendar: WorkingCalendar,
        keys: IncidentKeys,
        kafka: dict | None = None,
    ):
        self.app, self.settings, self.rules, self.major, self.places = app, settings, rules, major, places
        self.calendar, self.keys = calendar, keys
        self.metrics = metrics
        self.event_time = settings.clock == "event"
        self.engines: dict[int, IncidentEngine] = {}
        self.history = History(settings, rules.keep_closed, keys, kafka=kafka)
        self.lock = asyncio.Lock()
        self.generation = 0  # bumped by every revocation; a rebuild read across one is redone

    def new_engine(self) -> IncidentEngine:
        # An event clock per partition: partitions are consumed at their own pace, and one
        # partition's newer events must not fire another's deadlines early.
        clock = clocks.EventClock() if self.event_time else clocks.SystemClock()
        return IncidentEngine(
            self.rules,
            clock,
            self.major,
            self.places,
            tz=self.settings.timezone,
            calendar=self.calendar,
            streets=self.keys.streets_of,
        )

    async def ensure(self, partitions: set[int]) -> None:
        """Rebuild the engines of these partitions unless already held."""
        async with self.lock:
            while missing := partitions - self.engines.keys():
                generation, started = self.generation, time.perf_counter()
                rebuilt = await self.history.rebuild(missing, self.new_engine)
                if generation != self.generation:
                    continue  # a revocation came during the read: another worker may have moved on since
                for period in rebuilt.periods:
                    self.major = self.major.with_period(period)
                for engine in rebuilt.engines.values():
                    engine.major_events = self.major
                self.engines.update(rebuilt.engines)
                self.metrics.rebuild_seconds.observe(time.perf_counter() - started)
                self.metrics.rebuilt.labels("postgres").inc(rebuilt.from_postgres)
                self.metrics.rebuilt.labels("topic").inc(rebuilt.from_topic)
                log.info(
                    "escalation: rebuilt partitions %s: %d incidents from PostgreSQL, then %d events from the "
                    "topic from offsets %s (other partitions from their start) in %.2f s",
                    sorted(missing),
                    rebuilt.from_postgres,
                    rebuilt.from_topic,
                    rebuilt.offsets,
                    time.perf_counter() - started,
                )

    def revoke(self, partitions: set[int]) -> None:
        self.generation += 1
        for p in partitions:
            self.engines.pop(p, None)

    def handle(self, engine: IncidentEngine, topic: str, value: bytes) -> Outcome | FieldError:
        if topic == self.settings.topic_located_reports:
            report = json.loads(value)  # produced and validated by the geofence agent
            engine.clock.observe(datetime.fromisoformat(report["event_time"]))
            return engine.report(report)
        try:
            record = json.loads(value)
            if isinstance(record, dict) and "control" in record:
                return self.control(engine, control_record(record))
            action = IncidentAction.validate(record)
        except json.JSONDecodeError as exc:
            return FieldError("(body)", f"is not valid JSON: {exc}")
        except FieldError as error:
            return error
        engine.clock.observe(datetime.fromisoformat(action["time"]))
        return engine.action(action)

    def control(self, engine: IncidentEngine, record: dict) -> Outcome:
        if record["control"] == "tick":
            if not self.event_time:
                log.warning("escalation: ignoring a tick: REDWALL_CLOCK is not event")
            engine.clock.observe(datetime.fromisoformat(record["time"]))
            return engine.due()
        period = period_of(record["period"])
        self.major = self.major.with_period(period)
        engine.apply_period(period)
        log.info("escalation: major-event period %s in force %s..%s", period.id, period.start, period.end)
        return engine.due()

    async def publish(self, outcomes: list[tuple[int, Outcome]]) -> None:
        """Send events (to the partition they came from: the rebuild reads it) and alerts; await all."""
        s, key, outs = self.settings, self.keys.of, []
        for partition, outcome in outcomes:
            self.metrics.count(outcome)
            outs += [Out(s.topic_incidents, key(e["community"]), json.dumps(e), partition) for e in outcome.events]
            outs += [Out(s.topic_alerts, a["community"].encode(), json.dumps(a)) for a in outcome.alerts]
            # Placed by the street (or the district): to its street's partition, by key.
            outs += [Out(s.topic_located_reports, key(r["community"]), json.dumps(r)) for r in outcome.reports]
        await send_all(self.app.producer, outs)

    def count_open(self) -> None:
        self.metrics.count_open(self.engines.values())


def shorten_fetch_wait(app: faust.App, ms: int = FETCH_MAX_WAIT_MS) -> None:
    """Lower the worker consumer's fetch wait (see FETCH_MAX_WAIT_MS); the fetcher reads it per request."""
    consumer = getattr(getattr(app.consumer, "_thread", None), "_consumer", None)
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None or not hasattr(fetcher, "_fetch_max_wait_ms"):
        log.warning("escalation: cannot shorten the fetch wait (Faust or aiokafka changed); latency will suffer")
        return
    fetcher._fetch_max_wait_ms = ms


def install(
    app: faust.App,
    settings,
    registry: GridRegistry,
    metrics_registry: CollectorRegistry,
    dead_letter,
    *,
    kafka: dict | None = None,
) -> Escalation:
    """Load and check the rules and the working calendar (a bad file, or a calendar that does not cover the
    next days, stops start-up), then wire the agent, timer and signals."""
    rules = load_rules(settings.escalation_rules_path)
    rules.check_streets(registry.streets)
    calendar = load_calendar(settings.calendar_path, settings.holidays_path, settings.timezone)
    major = load_major_events(settings.major_events_path, set(registry.grids))
    metrics = EscalationMetrics(metrics_registry)
    keys = IncidentKeys(registry.geometry)
    esc = Escalation(
        app, settings, rules, major, places_of(registry), metrics, calendar=calendar, keys=keys, kafka=kafka
    )
    if esc.event_time:
        log.warning("escalation: REDWALL_CLOCK=event: time is the newest event seen (replays and tests only)")
    source = app.topic(
        settings.topic_located_reports,
        settings.topic_actions,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    @app.agent(source, name="escalation")
    async def escalate(stream):
        async for events in stream.take_events(BATCH_RECORDS, within=BATCH_WITHIN_SECONDS):
            with handling(app, events):
                await esc.ensure({e.message.partition for e in events})
                outcomes, letters = [], []
                for event in events:
                    m = event.message
                    result = esc.handle(esc.engines[m.partition], m.topic, m.value)
                    if isinstance(result, FieldError):
                        letters.append(dead_letter(result, m.value, m.topic, m.partition, m.offset, m.key))
                    else:
                        outcomes.append((m.partition, result))
                await esc.publish(outcomes)
                await send_all(app.producer, [Out(o.topic, o.key, o.value) for o in letters])

    @app.timer(interval=1.0, name="escalation-deadlines")
    async def deadlines():
        await esc.publish([(p, engine.due()) for p, engine in list(esc.engines.items())])
        for engine in list(esc.engines.values()):
            engine.prune()
        esc.count_open()  # once a second, not per batch: it walks every incident held

    @app.on_partitions_assigned.connect
    async def on_assigned(sender, assigned, **kwargs):
        mine = {tp.partition for tp in assigned if tp.topic == settings.topic_located_reports}
        shorten_fetch_wait(app)
        # Not awaited: a rebuild takes seconds and must not hold up the rebalance; the agent awaits it.
        asyncio.ensure_future(esc.ensure(mine))

    @app.on_partitions_revoked.connect
    async def on_revoked(sender, revoked, **kwargs):
        esc.revoke({tp.partition for tp in revoked if tp.topic == settings.topic_located_reports})

    return esc

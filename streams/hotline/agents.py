"""12345 work orders on the Faust app: one agent over redwall.hotline.v1 that places each order and
publishes it (redwall.hotline-located.v1) with the report it becomes (redwall.located-reports.v1, where
the escalation engine opens an incident or joins one nearby), passes events on unchanged and sends bad
records to the dead letters; and the clocks' timer (streams/hotline/clocks.py).

At-least-once as everywhere: a batch is acknowledged only once the broker has all it produced. A
redelivered order is placed the same way again and keeps its ids, so the sink and the engine drop it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import asyncpg
import faust
from prometheus_client import CollectorRegistry, Counter

from config.calendar import WorkingCalendar
from config.hotline import load_hotline
from schemas import json
from schemas.fields import FieldError
from schemas.hotline import hotline_records
from schemas.records import PLACED_BY
from sinks.postgres import is_retriable, open_pool
from streams import clock as clocks
from streams.escalation.keys import IncidentKeys
from streams.faust_consumer import handling
from streams.geofence.registry import GridRegistry
from streams.hotline import clocks as hotline_clocks
from streams.hotline.placement import Placer
from streams.metrics import WorkerMetrics
from streams.produce import Out, send_all

log = logging.getLogger(__name__)

BATCH_RECORDS = 500
BATCH_WITHIN_SECONDS = 0.05  # a few hundred orders a month: the window only bounds the latency


class HotlineMetrics:
    """By the street the order was placed in (an unlocated one: the holder of the unlocated queue)."""

    def __init__(self, registry: CollectorRegistry, streets: list[str]):
        self.orders = Counter(
            "redwall_hotline_orders_total",
            "12345 orders placed, by street and how",
            ["street", "placed_by"],
            registry=registry,
        )
        self.clock_alerts = Counter(
            "redwall_hotline_clock_alerts_total",
            "12345 clock alerts sent, by street, clock and stage",
            ["street", "clock", "stage"],
            registry=registry,
        )
        for street in streets:  # every series from the start, so a rate over them is never missing one
            for how in PLACED_BY:
                self.orders.labels(street, how)

    def count_alerts(self, alerts: list[dict]) -> None:
        for alert in alerts:
            clock, stage = alert["id"].split(":")[-3:-1]
            self.clock_alerts.labels(alert["street"], clock, stage).inc()


class Hotline:
    """What one record of redwall.hotline.v1 becomes, and the clocks' pool and timer work."""

    def __init__(self, app: faust.App, settings, placer: Placer, metrics: WorkerMetrics, dead_letter):
        self.app, self.settings, self.placer = app, settings, placer
        geometry = placer.registry.geometry
        self.keys = IncidentKeys(geometry)  # an order's report is keyed as the geofencer's
        streets = [*geometry.streets, *([geometry.district.id] if geometry.district else [])]  # and the queue's
        self.inputs, self.metrics = metrics, HotlineMetrics(metrics.registry, streets)
        self.dead_letter, self.decoder = dead_letter, hotline_records()
        self.clock = clocks.from_settings(settings)
        self.pool: asyncpg.Pool | None = None
        self.pool_lock = asyncio.Lock()

    def handle(self, value: bytes, topic: str, partition: int, offset: int, key: bytes | None) -> list[Out]:
        s = self.settings
        try:
            record = self.decoder.decode(value)
            if record["type"] == "order":
                placed = self.placer.place(record)
                located = self.placer.located_order(record, placed)
        except FieldError as error:
            letter = self.dead_letter(error, value, topic, partition, offset, key)
            for label in letter.rejected:  # each wrong field once, as the geofence agent counts them
                self.inputs.rejected.labels(topic, "kafka", label).inc()
            self.inputs.deadletters.labels(topic).inc()
            return [Out(letter.topic, letter.key, letter.value)]
        self.inputs.ingested.labels(topic).inc()
        order_key = record.get("order", record["id"]).encode()
        if record["type"] == "event":
            self.clock.observe(datetime.fromisoformat(record["time"]))
            return [Out(s.topic_hotline_located, order_key, value)]
        self.clock.observe(datetime.fromisoformat(record["dispatched_at"]))
        self.metrics.orders.labels(located["street"], placed.placed_by).inc()
        report = self.placer.report(located)
        return [
            Out(s.topic_hotline_located, order_key, json.dumps(located)),
            Out(s.topic_located_reports, self.keys.of(report.get("community")), json.dumps(report)),
        ]

    async def connected(self) -> asyncpg.Pool:
        """The clocks' PostgreSQL pool, made on first use (one connection: one query every few seconds)."""
        async with self.pool_lock:
            if self.pool is None:
                self.pool = await open_pool(self.settings.database_dsn, max_size=1, command_timeout=30)
        return self.pool

    async def send_alerts(self, alerts: list[dict]) -> None:
        self.metrics.count_alerts(alerts)
        topic = self.settings.topic_alerts
        await send_all(self.app.producer, [Out(topic, a["community"].encode(), json.dumps(a)) for a in alerts])


def install(
    app: faust.App,
    settings,
    registry: GridRegistry,
    metrics: WorkerMetrics,
    dead_letter,
    max_age: timedelta,
    calendar: WorkingCalendar,
) -> Hotline:
    """Load and check config/hotline.toml (a bad file stops start-up), then wire the agent and the timer.
    `max_age` and `calendar`: the escalation's ([alerts] max_age, and the working calendar it loaded and
    checked): one answer for every alert and every limit."""
    config = load_hotline(settings.hotline_path)
    hotline = Hotline(app, settings, Placer(registry, config, calendar), metrics, dead_letter)
    source = app.topic(
        settings.topic_hotline, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    @app.agent(source, name="hotline")
    async def place_orders(stream):
        async for events in stream.take_events(BATCH_RECORDS, within=BATCH_WITHIN_SECONDS):
            with handling(app, events):
                outs = []
                for event in events:
                    m = event.message
                    outs += hotline.handle(m.value, m.topic, m.partition, m.offset, m.key)
                await send_all(app.producer, outs)

    @app.timer(settings.hotline_clock_seconds, name="hotline-clocks")
    async def hotline_clock():
        now = hotline.clock.now()
        # One worker looks, to spare Postgres: the owner of the hotline topic's partition 0. Two that both
        # think so (a rebalance, a paused worker) still alert once: tick() claims each stage.
        owner = any(tp.topic == settings.topic_hotline and tp.partition == 0 for tp in app.consumer.assignment())
        if now is None or not owner:
            return
        try:
            sent = await hotline_clocks.tick(
                await hotline.connected(), config, now, hotline.send_alerts, calendar, max_age
            )
        except Exception as exc:  # a timer that raises ends the worker; Postgres away is tried again next time
            if not is_retriable(exc):
                raise
            log.warning("hotline: clocks skipped, Postgres unavailable: %s: %s", type(exc).__name__, exc)
            return
        if sent:
            log.info("hotline: %d clock alerts: %s", len(sent), ", ".join(a["id"] for a in sent))

    return hotline

"""The worker's own Prometheus metrics, on an injected registry (a fresh one per test), served by the ops
listener (streams/ops_http.py)."""

from __future__ import annotations

import faust
from aiohttp import web
from faust.sensors.prometheus import MS_LATENCY_BUCKETS, FaustMetrics, PrometheusMonitor
from mode import Service
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams import ops_http


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.ingested = Counter(
            "redwall_events_ingested_total",
            "Input records the worker accepted, by topic: once each, whether posted over HTTP or produced to Kafka",
            ["topic"],
            registry=registry,
        )
        self.located = Counter(
            "redwall_events_located_total",
            "Reports and GPS pings located, by input topic",
            ["topic"],
            registry=registry,
        )
        self.rejected = Counter(
            "redwall_events_rejected_total",
            "Input refused, by topic, by where it came in (http/kafka) and by the field at fault",
            ["topic", "via", "reason"],
            registry=registry,
        )
        self.outside = Counter(
            "redwall_reports_outside_total",
            "Valid reports outside every street: each opens an incident in the street's unlocated queue",
            registry=registry,
        )
        self.deadletters = Counter(
            "redwall_deadletters_total",
            "Records sent to the dead-letter topic, by source topic",
            ["topic"],
            registry=registry,
        )
        self.geofence_seconds = Histogram(
            "redwall_geofence_seconds",
            "Time to decode, validate and geofence one Kafka record",
            buckets=(1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1),
            registry=registry,
        )
        self.batch_records = Histogram(
            "redwall_agent_batch_records",
            "Kafka records handled per agent batch",
            buckets=(1, 10, 50, 100, 500, 1000, 5000),
            registry=registry,
        )
        # streams/faust_consumer.py: what the worker leaves uncommitted, to be fetched and handled again.
        self.uncommitted = Counter(
            "redwall_records_left_uncommitted_total",
            "Records an agent was given but left uncommitted, to be fetched again: skipped in a rebalance, "
            "or in a batch whose handling failed",
            ["topic", "reason"],
            registry=registry,
        )
        self.rewinds = Counter(
            "redwall_partition_rewinds_total",
            "Partitions fetched again from a head record left unhandled while later records were handled",
            ["topic"],
            registry=registry,
        )


def show(gauge: Gauge, shown: set[tuple[str, ...]], values: dict[tuple[str, ...], float]) -> set[tuple[str, ...]]:
    """Set `gauge` to `values` (label values -> value), removing the label sets of `shown` no longer among them;
    returns what it shows now."""
    for labels in shown - values.keys():
        gauge.remove(*labels)
    for labels, n in values.items():
        gauge.labels(*labels).set(n)
    return set(values)


# Faust observes its latencies in milliseconds and names one histogram `..._ms`, which
# `promtool check metrics` refuses; these are the same histograms in seconds, the base unit.
FAUST_MS_HISTOGRAMS = {
    "events_runtime_latency": "events_runtime_seconds",
    "producer_send_latency": "producer_send_latency_seconds",
    "producer_error_send_latency": "producer_error_send_latency_seconds",
    "assign_latency": "assign_latency_seconds",
    "rebalance_done_consumer_latency": "rebalance_done_consumer_latency_seconds",
    "rebalance_done_latency": "rebalance_done_latency_seconds",
    "http_latency": "http_latency_seconds",
    "consumer_commit_latency": "consumer_commit_latency_seconds",
}


class _FromMilliseconds:
    """Takes Faust's millisecond observations into a histogram in seconds."""

    def __init__(self, histogram: Histogram):
        self.histogram = histogram

    def observe(self, milliseconds: float) -> None:
        self.histogram.observe(milliseconds / 1000)


def install_faust_sensor(app: faust.App, registry: CollectorRegistry, prefix: str = "faust") -> None:
    """Faust's own Prometheus sensor, into `registry`, with its latencies in seconds."""
    scratch = CollectorRegistry()  # Faust registers its metrics here; we re-register all but the ms ones
    metrics = FaustMetrics.create(scratch, prefix)
    seconds = {}
    for field, collector in metrics._asdict().items():
        if field in FAUST_MS_HISTOGRAMS:
            histogram = Histogram(
                f"{prefix}_{FAUST_MS_HISTOGRAMS[field]}",
                collector._documentation.replace(" in ms", ""),
                buckets=[b / 1000 for b in MS_LATENCY_BUCKETS],
                registry=registry,
            )
            seconds[field] = _FromMilliseconds(histogram)
        else:
            registry.register(collector)
    app.monitor = PrometheusMonitor(metrics=metrics._replace(**seconds))


class OpsListener(Service):
    """The ops listener (/metrics, /healthz) as a service of the worker's Faust app: up as the app starts,
    before it has joined its group, so a health check sees a worker that is starting; down when it stops."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int, **kwargs):
        super().__init__(**kwargs)
        self.registry, self.host, self.port = registry, host, port
        self.runner: web.AppRunner | None = None

    async def on_start(self) -> None:
        self.runner = await ops_http.start(self.registry, "worker", self.host, self.port)

    async def on_stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

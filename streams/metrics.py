"""The worker's own Prometheus metrics, on an injected registry (a fresh one per test)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.ingested = Counter(
            "redwall_events_ingested_total", "Input records accepted, by topic", ["topic"], registry=registry
        )
        self.located = Counter(
            "redwall_events_located_total", "Reports and GPS pings located, by input topic", ["topic"],
            registry=registry,
        )
        self.rejected = Counter(
            "redwall_events_rejected_total",
            "Input refused, by topic, by where it came in (http/kafka) and by the field at fault",
            ["topic", "via", "reason"],
            registry=registry,
        )
        self.deadletters = Counter(
            "redwall_deadletters_total", "Records sent to the dead-letter topic, by source topic", ["topic"],
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

"""The worker's metrics: Faust's own sensor, re-expressed in seconds."""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry

from streams.metrics import FAUST_MS_HISTOGRAMS, install_faust_sensor


def test_faust_latencies_are_histograms_in_seconds_and_no_name_says_ms():
    app = faust.App("metrics-test", autodiscover=False)
    registry = CollectorRegistry()
    install_faust_sensor(app, registry)
    app.monitor._metrics.http_latency.observe(250.0)  # Faust observes milliseconds (Monitor.ms_since)
    assert registry.get_sample_value("faust_http_latency_seconds_sum") == 0.25
    assert registry.get_sample_value("faust_http_latency_seconds_bucket", {"le": "0.25"}) == 1
    names = {metric.name for metric in registry.collect()}
    assert {f"faust_{name}" for name in FAUST_MS_HISTOGRAMS.values()} <= names
    assert "faust_messages_received" in names  # the rest of Faust's metrics are kept as they are
    assert not [n for n in names if n.endswith("_ms")]

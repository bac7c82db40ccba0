"""The hotline agent's counting (pure): orders placed and clock alerts count by the street of the order, and
every street's placed-by series exists from the start."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from config.hotline import load_hotline
from config.sample.district import district_path
from config.settings import Settings
from schemas import json
from streams.geofence.registry import GridRegistry
from streams.hotline.agents import Hotline
from streams.hotline.clocks import Stage
from streams.hotline.placement import Placer
from streams.metrics import WorkerMetrics
from tests.support.hotline import OUTSIDE, WORKING_CALENDAR, order


def test_in_a_district_orders_and_clock_alerts_count_by_street():
    reg, registry = CollectorRegistry(), GridRegistry.load(district_path(2))
    settings = Settings.from_env()
    hotline = Hotline(None, settings, Placer(registry, load_hotline(), WORKING_CALENDAR), WorkerMetrics(reg), None)
    east = next(g for g in registry.grids.values() if registry.communities[g.parent].parent == "xinjiekou")
    lng, lat = east.centre
    for record in (order("o-east", location=(lat, lng)), order("o-nowhere", location=OUTSIDE, address="无此地址")):
        hotline.handle(json.dumps(record), settings.topic_hotline, 0, 0, None)
    value = reg.get_sample_value
    placed = {
        (street, how): value("redwall_hotline_orders_total", {"street": street, "placed_by": how})
        for street in ("xichangan", "xinjiekou", "xicheng")
        for how in ("location", "unlocated")
    }
    assert placed == {
        ("xichangan", "location"): 0,
        ("xichangan", "unlocated"): 0,
        ("xinjiekou", "location"): 1,
        ("xinjiekou", "unlocated"): 0,
        ("xicheng", "location"): 0,
        ("xicheng", "unlocated"): 1,  # the district holds the unlocated queue
    }
    due = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
    hotline.metrics.count_alerts(
        [
            {"id": Stage("o-east", "contact", "warning", due, due).alert_id, "street": "xinjiekou"},
            {"id": Stage("o-nowhere", "resolve", "breach", due, due).alert_id, "street": "xicheng"},
        ]
    )
    assert (
        value("redwall_hotline_clock_alerts_total", {"street": "xinjiekou", "clock": "contact", "stage": "warning"})
        == 1
    )
    assert (
        value("redwall_hotline_clock_alerts_total", {"street": "xicheng", "clock": "resolve", "stage": "breach"}) == 1
    )
    assert (
        value("redwall_hotline_clock_alerts_total", {"street": "xichangan", "clock": "contact", "stage": "warning"})
        is None
    )

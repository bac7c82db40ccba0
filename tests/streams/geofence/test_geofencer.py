"""The geofencer: located records carry the courtyard a point is in, and dead letters name every wrong field
of a record, a letter the sink stores (a DeadLetter that validates), however hostile the record."""

from __future__ import annotations

import base64
import dataclasses
import random
import time

import pytest

from config.settings import Settings
from schemas import json
from schemas.fields import MAX_ERRORS
from schemas.records import DeadLetter, LocatedReport, PositionBatch
from streams.geofence.geofencer import Geofencer, Topics
from streams.geofence.registry import GridRegistry

T = "2026-12-06T10:00:00+08:00"


@pytest.fixture(scope="module")
def geofencer() -> Geofencer:
    return Geofencer(GridRegistry.from_settings(Settings()), Topics("located", "positions", "dead"), 1000)


def in_and_between_courtyards(registry: GridRegistry) -> tuple[tuple, tuple]:
    """A point in courtyard c03-g04-y08 (the middle of its corners), and one of its grid in no courtyard:
    halfway from the grid's south-west corner to its first courtyard's, in the street around them."""
    ring = registry.courtyards["c03-g04-y08"].rings[0][:-1]
    inside = (sum(p[1] for p in ring) / len(ring), sum(p[0] for p in ring) / len(ring))
    (lng0, lat0), (lng1, lat1) = registry.grids["c03-g04"].rings[0][0], registry.courtyards["c03-g04-y01"].rings[0][0]
    return inside, ((lat0 + lat1) / 2, (lng0 + lng1) / 2)


def test_located_records_carry_the_courtyard_when_in_one(geofencer):
    inside, lane = in_and_between_courtyards(geofencer.registry)
    pings = [{"lat": lat, "lng": lng, "accuracy": 5, "time": T} for lat, lng in (inside, lane)]
    out = geofencer.pings(json.dumps({"device": "dev-1", "pings": pings}), "pings", 0, 1)
    located = PositionBatch.validate(json.loads(out.value))["pings"]
    assert [(p["grid"], p.get("courtyard")) for p in located] == [("c03-g04", "c03-g04-y08"), ("c03-g04", None)]
    assert "courtyard" not in located[1]  # absent, not null: a lane's fix is no longer than before
    for (lat, lng), courtyard in ((inside, "c03-g04-y08"), (lane, None)):
        report = {
            "id": f"r-{courtyard}",
            "device": "dev-1",
            "category": "sanitation",
            "severity": "low",
            "text": "楼道堆物",
            "location": {"lat": lat, "lng": lng},
            "event_time": T,
        }
        out = geofencer.report(json.dumps(report), "reports", 0, 2)
        assert LocatedReport.validate(json.loads(out.value)).get("courtyard") == courtyard


def test_a_ping_batch_with_and_without_courtyards(geofencer):
    """The same batches through a geofencer whose map has no courtyards: the same records but for the
    courtyard; prints what the courtyards cost a ping on the hot path (pytest -s)."""
    registry = geofencer.registry
    plain = Geofencer(
        GridRegistry.build(dataclasses.replace(registry.geometry, courtyards={}), registry.resolution),
        geofencer.topics,
        1000,
    )
    rng = random.Random(9)
    batches = [
        json.dumps(
            {
                "device": "dev-1",
                "pings": [
                    {"lat": rng.uniform(39.895, 39.925), "lng": rng.uniform(116.355, 116.4), "accuracy": 5, "time": T}
                    for _ in range(50)
                ],
            }
        )
        for _ in range(400)
    ]
    costs, outputs = {}, {}
    for name, each in (("grids only", plain), ("grids and courtyards", geofencer)):
        started = time.perf_counter()
        outputs[name] = [json.loads(each.pings(b, "pings", 0, 0).value)["pings"] for b in batches]
        costs[name] = (time.perf_counter() - started) / (len(batches) * 50) * 1e6
    located = [p for batch in outputs["grids and courtyards"] for p in batch]
    assert [{k: v for k, v in p.items() if k != "courtyard"} for p in located] == [
        p for batch in outputs["grids only"] for p in batch
    ]
    assert 0.3 < sum("courtyard" in p for p in located) / len(located) < 0.7
    print(", ".join(f"{name}: {cost:.2f} µs a ping" for name, cost in costs.items()))


def letter(out) -> dict:
    assert out.topic == "dead"
    return DeadLetter.validate(json.loads(out.value))  # what the sink checks before it stores a letter


def test_a_report_with_several_wrong_fields_names_every_one(geofencer):
    raw = json.dumps(
        {
            "id": "r 1",
            "device": "dev-1",
            "category": "apocalypse",
            "severity": "low",
            "text": "x",
            "location": {"lat": 91, "lng": 116.37},
            "colour": "red",
        }
    )
    out = geofencer.report(raw, "reports", 2, 40, b"dev-1")
    dead = letter(out)
    assert [e["field"] for e in dead["errors"]] == ["id", "category", "location.lat", "colour", "event_time"]
    for error in dead["errors"]:
        assert f"{error['field']}: {error['reason']}" in dead["reason"]
    assert out.rejected == ("id", "category", "location.lat", "(unknown)", "event_time")
    assert base64.b64decode(dead["value_b64"]) == raw and (dead["partition"], dead["offset"]) == (2, 40)


def test_a_ping_batch_wrong_everywhere_gives_a_bounded_letter_the_sink_takes(geofencer):
    pings = [{"lat": 91, "lng": 181, "accuracy": -1, "time": "soon", "": 1}] * 1000
    out = geofencer.pings(json.dumps({"device": "dev-1", "pings": pings}), "pings", 0, 7)
    dead = letter(out)
    assert len(dead["errors"]) == MAX_ERRORS and len(dead["reason"]) <= 1000
    assert dead["errors"][4] == {"field": 'pings.0.""', "reason": "is not a known field"}  # an empty key, named
    assert out.rejected == ("pings.*.lat", "pings.*.lng", "pings.*.accuracy", "pings.*.time", "pings.*.(unknown)")
